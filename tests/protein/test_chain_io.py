"""Reading chains from PDB / PDB.gz / mmCIF / JSON and the segment filters."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from molgen.errors import MolgenInputError
from molgen.io.chains import (
    ChainRecord,
    chain_break_mask,
    clean_chains,
    filter_length,
    missing_atom_mask,
    read_chains,
    split_segments,
)

PDB_TEXT = """\
ATOM      1  N   ALA A  10      11.104   6.134  -6.504  1.00  0.00           N
ATOM      2  CA  ALA A  10      11.639   6.071  -5.147  1.00  0.00           C
ATOM      3  C   ALA A  10      13.149   5.891  -5.152  1.00  0.00           C
ATOM      4  O   ALA A  10      13.716   5.397  -6.122  1.00  0.00           O
ATOM      5  N  AMSE A  11      13.800   6.286  -4.062  0.40  0.00           N
ATOM      6  N  BMSE A  11      13.900   6.386  -4.062  0.60  0.00           N
HETATM    7  CA  MSE A  11      15.254   6.183  -3.999  1.00  0.00           C
HETATM    8  C   MSE A  11      15.754   6.983  -2.799  1.00  0.00           C
HETATM    9  O   MSE A  11      15.011   7.724  -2.156  1.00  0.00           O
ATOM     10  N   GLY A  11A     17.060   6.860  -2.558  1.00  0.00           N
ATOM     11  CA  GLY A  11A     17.670   7.590  -1.460  1.00  0.00           C
ATOM     12  C   GLY A  11A     19.170   7.350  -1.420  1.00  0.00           C
ATOM     13  O   GLY A  11A     19.700   6.500  -2.150  1.00  0.00           O
HETATM   14  C1  LIG A 100       0.000   0.000   0.000  1.00  0.00           C
HETATM   15  O   HOH A 201       1.000   1.000   1.000  1.00  0.00           O
ATOM     16  N   ALA B   1      31.104   6.134  -6.504  1.00  0.00           N
ATOM     17  CA  ALA B   1      31.639   6.071  -5.147  1.00  0.00           C
ATOM     18  C   ALA B   1      33.149   5.891  -5.152  1.00  0.00           C
END
"""


@pytest.fixture()
def tiny_pdb(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pdb"
    path.write_text(PDB_TEXT)
    return path


def test_read_pdb_rules(tiny_pdb: Path) -> None:
    a, b = read_chains(tiny_pdb)
    assert (a.name, a.chain_id, a.seq) == ("tiny:A", "A", "AMG")  # MSE -> M, ligand/water skipped
    assert a.res_ids.tolist() == ["10", "11", "11A"]
    assert a.backbone.dtype == np.float32 and a.backbone.shape == (3, 4, 3)
    np.testing.assert_allclose(a.backbone[1, 0], [13.9, 6.386, -4.062], atol=1e-3)  # altloc B (0.6)
    assert missing_atom_mask(b).tolist() == [True]  # chain B lacks O
    assert read_chains(tiny_pdb, chains=["B"])[0].chain_id == "B"
    with pytest.raises(MolgenInputError, match="chain.*'Z'.*not found"):
        read_chains(tiny_pdb, chains=["Z"])


def test_pdb_gz_and_mmcif_agree(tiny_pdb: Path, tmp_path: Path) -> None:
    import gemmi

    gz = tmp_path / "tiny.pdb.gz"
    with open(tiny_pdb, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    cif = tmp_path / "tiny.cif"
    gemmi.read_structure(str(tiny_pdb)).make_mmcif_document().write_file(str(cif))
    ref = read_chains(tiny_pdb)[0]
    for path in (gz, cif):
        rec = read_chains(path)[0]
        assert rec.seq == ref.seq and rec.res_ids.tolist() == ref.res_ids.tolist()
        np.testing.assert_allclose(rec.backbone, ref.backbone, atol=1e-3)


def test_read_json_layouts(tmp_path: Path) -> None:
    coords = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    listed = {"name": "1abc.B", "seq": "AG", "coords": coords.tolist()}
    as_dict = {
        "name": "2xyzA",
        "seq": "AG",
        "coords": {a: coords[:, i].tolist() for i, a in enumerate(("N", "CA", "C", "O"))},
    }
    as_dict["coords"]["O"][1] = [None, None, None]
    (tmp_path / "set.json").write_text(json.dumps([listed, as_dict]))
    with gzip.open(tmp_path / "set.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(listed) + "\n" + json.dumps(as_dict) + "\n")
    for name in ("set.json", "set.jsonl.gz"):
        r1, r2 = read_chains(tmp_path / name)
        assert (r1.chain_id, r2.chain_id) == ("B", "A")
        np.testing.assert_array_equal(r1.backbone, coords.astype(np.float32))
        assert missing_atom_mask(r2).tolist() == [False, True]
        assert r1.res_ids.tolist() == ["1", "2"]
    (tmp_path / "bad.json").write_text(json.dumps([{"name": "x", "seq": "AAA", "coords": coords.tolist()}]))
    with pytest.raises(MolgenInputError, match="bad.json.*sequence length"):
        read_chains(tmp_path / "bad.json")


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match="not found"):
        read_chains(tmp_path / "missing.pdb")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(MolgenInputError, match="unknown chain file type"):
        read_chains(tmp_path / "x.txt")
    hetatm = "HETATM    1  C1  LIG A 100       0.000   0.000   0.000  1.00  0.00           C\n"
    (tmp_path / "lig.pdb").write_text(hetatm)
    with pytest.raises(MolgenInputError, match="lig.pdb.*no protein chain"):
        read_chains(tmp_path / "lig.pdb")


def test_split_and_filter(ts50: list[ChainRecord]) -> None:
    rec = ts50[0]
    bb = rec.backbone.copy()
    bb[60:] += np.array([0.0, 0.0, 5.0], dtype=np.float32)  # a 5 A gap between residues 59 and 60
    bb[100, 3] = np.nan  # residue 100 lacks O
    broken = ChainRecord(rec.name, rec.seq, bb, rec.res_ids, rec.chain_id)
    assert np.flatnonzero(chain_break_mask(broken)).tolist() == [59]
    parts = split_segments(broken)
    assert [len(p) for p in parts] == [60, 40, len(rec) - 101]
    assert parts[1].res_ids[0] == rec.res_ids[60] and parts[1].name == f"{rec.name}/1"
    assert [len(p) for p in clean_chains([broken], min_length=40)] == [60, 40]
    assert split_segments(rec) == [rec]
    assert len(filter_length(ts50, min_length=100, max_length=150)) == sum(100 <= len(r) <= 150 for r in ts50)

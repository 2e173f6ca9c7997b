"""PDB / mmCIF export: readable by Biopython and gemmi, numbering and motif B-factors kept."""

from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np
import pytest
from Bio.PDB import MMCIFParser, PDBParser

from molgen.errors import MolgenInputError
from molgen.io.chains import ONE_TO_THREE, ChainRecord, read_chains
from molgen.protein.structure import MOTIF_BFACTOR, backbone_to_structure, write_mmcif, write_pdb


@pytest.fixture()
def chain(ts50: list[ChainRecord]) -> ChainRecord:
    return ts50[0].select(slice(0, 12))


NUMBERS = ["5", "6", "7", "7A", "8", 9, 10, 11, 12, 13, 14, 15]


@pytest.mark.parametrize("fmt", ["pdb", "cif"])
def test_export_readable_by_biopython_and_gemmi(chain: ChainRecord, tmp_path: Path, fmt: str) -> None:
    mask = np.zeros(len(chain), dtype=bool)
    mask[3:7] = True
    path = tmp_path / f"out.{fmt}"
    writer = write_pdb if fmt == "pdb" else write_mmcif
    writer(chain.backbone, path, sequence=chain.seq, motif_mask=mask, residue_numbers=NUMBERS, chain_id="B")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    expected = [(int(str(n).rstrip("A")), "A" if str(n).endswith("A") else " ") for n in NUMBERS]

    parser = PDBParser(QUIET=True) if fmt == "pdb" else MMCIFParser(QUIET=True)
    residues = list(parser.get_structure("x", str(path))[0]["B"])
    assert [(r.id[1], r.id[2]) for r in residues] == expected
    assert [r.get_resname() for r in residues] == [ONE_TO_THREE[a] for a in chain.seq]
    assert [r["CA"].get_bfactor() for r in residues] == [MOTIF_BFACTOR if m else 0.0 for m in mask]

    st = gemmi.read_structure(str(path))
    gres = list(st[0]["B"])
    assert [(r.seqid.num, r.seqid.icode) for r in gres] == expected
    assert [r["CA"][0].b_iso for r in gres] == [1.0 if m else 0.0 for m in mask]

    back = read_chains(path)[0]
    np.testing.assert_allclose(back.backbone, chain.backbone, atol=1e-3)
    assert back.res_ids.tolist() == [str(n) for n in NUMBERS]


def test_poly_residues(chain: ChainRecord, tmp_path: Path) -> None:
    gly = backbone_to_structure(chain.backbone)
    assert {r.get_resname() for r in gly.get_residues()} == {"GLY"}
    assert all(len(r) == 4 for r in gly.get_residues())
    ala = backbone_to_structure(chain.backbone, sequence="A")
    for res, bb in zip(ala.get_residues(), chain.backbone):
        assert res.get_resname() == "ALA"
        assert abs(np.linalg.norm(res["CB"].coord - bb[1]) - 1.53) < 0.02  # ideal CA-CB
    assert [r.id[1] for r in ala.get_residues()] == list(range(1, len(chain) + 1))


def test_export_errors(chain: ChainRecord) -> None:
    with pytest.raises(MolgenInputError, match="sequence has"):
        backbone_to_structure(chain.backbone, sequence="AAA")
    with pytest.raises(MolgenInputError, match="unknown residue"):
        backbone_to_structure(chain.backbone, sequence="Z")
    bad = chain.backbone.copy()
    bad[0, 0] = np.nan
    with pytest.raises(MolgenInputError, match="non-finite"):
        backbone_to_structure(bad)
    with pytest.raises(MolgenInputError, match="duplicate"):
        backbone_to_structure(chain.backbone, residue_numbers=[1] * len(chain))

"""The identity filter and the combined training set of PoseBusters + FEP complexes (small inputs)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pandas as pd
import pytest

import molgen.data.leakage as leakage
from molgen.data.leakage import (
    build_manifest,
    combined_complexes,
    complex_identity,
    crop_pdb,
    fep_poses,
    pdb_lines,
    posebusters_poses,
    read_test_chains,
)
from molgen.errors import MolgenInputError
from molgen.io.chains import ONE_TO_THREE
from molgen.protein.sequence import sequence_identity

AA = "ACDEFGHIKLMNPQRSTVWY"
rng = random.Random(7)
TEST_SEQ = "".join(rng.choice(AA) for _ in range(120))
UNRELATED = "".join(rng.choice(AA) for _ in range(110))


def _mutate(seq: str, keep: float, seed: int) -> str:
    """``seq`` with a fraction ``1 - keep`` of positions changed to another residue, no gaps."""
    r = random.Random(seed)
    out = [c if r.random() < keep else r.choice(AA.replace(c, "")) for c in seq]
    return "".join(out)


def _pdb_lines(chains: dict[str, str], start_serial: int = 1) -> list[str]:
    lines, serial = [], start_serial
    for chain_id, seq in chains.items():
        for i, aa in enumerate(seq):
            for name, dx in (("N", 0.0), ("CA", 1.2), ("C", 2.4), ("O", 2.9)):
                x = 3.8 * i + dx
                lines.append(f"ATOM  {serial:5d}  {name:<3} {ONE_TO_THREE[aa]} {chain_id}{i + 1:4d}    "
                             f"{x:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00  0.00           {name[0]}")  # fmt: skip
                serial += 1
    return lines


def _write_gz(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def _ligand_sdf(n: int) -> str:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    blocks = []
    for k in range(n):
        mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
        AllChem.EmbedMolecule(mol, randomSeed=k)
        mol.SetProp("_Name", f"lig{k}")
        blocks.append(Chem.MolToMolBlock(mol) + "$$$$\n")
    return "".join(blocks)


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    """A test receptor (one chain + a short peptide), two PoseBusters-layout complexes (a close
    homologue, an unrelated protein) and one FEP-layout system with two poses (unrelated)."""
    test = tmp_path / "crossdocked_test" / "T1"
    test.mkdir(parents=True)
    (test / "1abc_A_rec.pdb").write_text("\n".join(_pdb_lines({"A": TEST_SEQ, "B": "ACDEFGHIK"})) + "\nEND\n")
    pb = tmp_path / "posebusters_308"
    het = "HETATM99999  C1  LIG A 900       1.000   1.000   1.000  1.00  0.00           C"
    _write_gz(pb / "1hom_LIG.pdb.gz", "\n".join(_pdb_lines({"A": _mutate(TEST_SEQ, 0.6, 1)}) + [het, "END", ""]))
    _write_gz(pb / "2unr_LIG.pdb.gz", "\n".join(_pdb_lines({"A": UNRELATED, "P": TEST_SEQ[:12]}) + [het, "END", ""]))
    fep = tmp_path / "fep_benchmark" / "subset"
    _write_gz(fep / "sys_protein.pdb.gz", "\n".join(_pdb_lines({"A": UNRELATED[::-1]}) + ["END", ""]))
    _write_gz(fep / "sys_ligands.sdf.gz", _ligand_sdf(2))
    return {"test": tmp_path / "crossdocked_test", "posebusters": pb, "fep": tmp_path / "fep_benchmark"}


def test_identity_is_over_the_shorter_sequence():
    assert sequence_identity(TEST_SEQ, TEST_SEQ) == 1.0
    assert sequence_identity(TEST_SEQ[20:70], TEST_SEQ) == 1.0  # a fragment of a test chain
    assert sequence_identity(TEST_SEQ, TEST_SEQ[20:70]) == 1.0  # symmetric
    assert 0.5 <= sequence_identity(_mutate(TEST_SEQ, 0.6, 1), TEST_SEQ) <= 0.7
    assert sequence_identity(UNRELATED, TEST_SEQ) < 0.3


def test_complex_identity_takes_the_closest_chain_and_skips_short_ones():
    test_chains = {"t:A": TEST_SEQ, "t:B": "ACDEFGHIK"}
    match = complex_identity({"A": UNRELATED, "B": _mutate(TEST_SEQ, 0.6, 1)}, test_chains)
    assert match.query_chain == "B" and match.test_chain == "t:A" and match.max_identity >= 0.5
    # a peptide identical to part of the test chain, or to the test's own peptide, is not compared
    peptide = complex_identity({"P": TEST_SEQ[:12], "Q": "ACDEFGHIK"}, test_chains, min_chain_length=30)
    assert peptide.max_identity == 0.0
    assert complex_identity({"P": TEST_SEQ[:12]}, test_chains, min_chain_length=5).max_identity == 1.0
    cache: dict = {}
    complex_identity({"A": UNRELATED, "A2": UNRELATED}, test_chains, cache=cache)
    assert len(cache) == 1  # one alignment per distinct sequence pair


def test_poses_of_both_layouts(sources):
    pb = posebusters_poses(sources["posebusters"])
    assert [(p.complex, p.pose, p.ligand_ref) for p in pb] == [("1hom_LIG", "LIG", "LIG"), ("2unr_LIG", "LIG", "LIG")]
    fep = fep_poses(sources["fep"])
    assert [(p.complex, p.pose, p.ligand_ref) for p in fep] == [("subset/sys", "lig0", "0"), ("subset/sys", "lig1", "1")]
    assert fep[0].protein.name == "sys_protein.pdb.gz"
    assert leakage.load_pose(fep[1]).GetProp("_Name") == "lig1"


def test_manifest_drops_homologues_and_failed_poses_and_combines_the_rest(sources, tmp_path, monkeypatch):
    test_chains = read_test_chains(sorted(sources["test"].glob("*/*_rec.pdb")))
    assert sorted(test_chains) == ["T1/1abc_A_rec.pdb:A", "T1/1abc_A_rec.pdb:B"]
    poses = posebusters_poses(sources["posebusters"]) + fep_poses(sources["fep"])
    checked = []

    def fake_checks(group, crop, tmpdir, deadline=float("inf")):  # PoseBusters itself is tested in tests/metrics
        checked.extend(p.pose for p in group)
        return {p.pose: ("minimum_distance_to_protein" if p.pose == "lig1" else "") for p in group}

    monkeypatch.setattr(leakage, "_check_complex", fake_checks)
    manifest = build_manifest(poses, test_chains, cache_dir=tmp_path / "cache")
    assert list(manifest.columns) == list(leakage.MANIFEST_COLUMNS)
    rows = {(r.complex, r.pose): r for r in manifest.itertuples()}
    hom = rows[("1hom_LIG", "LIG")]
    assert not hom.kept and hom.reason.startswith("identity") and "T1/1abc_A_rec.pdb:A" in hom.reason
    assert hom.pb_failed == "not checked" and "LIG" in checked  # only the unrelated complex's LIG
    assert checked.count("LIG") == 1
    unr = rows[("2unr_LIG", "LIG")]
    assert unr.kept and unr.max_identity < 0.3 and unr.reason == ""  # its 12-residue peptide is ignored
    assert rows[("subset/sys", "lig0")].kept
    bad = rows[("subset/sys", "lig1")]
    assert not bad.kept and bad.reason == "PoseBusters: minimum_distance_to_protein"

    combined = combined_complexes(manifest)
    assert [(p.source, p.complex, p.pose) for p in combined] == [
        ("posebusters", "2unr_LIG", "LIG"), ("fep", "subset/sys", "lig0")]

    # out of time before any check: kept by identity alone, flagged, not in the combined set
    checked.clear()
    unchecked = build_manifest(poses, test_chains, max_seconds=0)
    assert not checked and (unchecked.loc[unchecked["kept"], "pb_failed"] == "not checked").all()
    assert combined_complexes(unchecked) == [] and len(combined_complexes(unchecked, require_posebusters=False)) == 3

    # resumed from the per-complex cache: no alignment and no check again, the same table
    monkeypatch.setattr(leakage, "complex_identity", lambda *a, **k: pytest.fail("identity recomputed"))
    checked.clear()
    again = build_manifest(poses, test_chains, cache_dir=tmp_path / "cache")
    assert not checked and again.equals(manifest)


def test_combined_complexes_reads_the_csv_relative_to_root(tmp_path):
    table = pd.DataFrame([
        {"source": "fep", "complex": "s/x", "pose": "a", "protein": "s/x_protein.pdb.gz", "ligand": "s/x_ligands.sdf.gz",
         "ligand_ref": 0, "max_identity": 0.1, "query_chain": "A", "test_chain": "t", "pb_failed": "", "kept": True,
         "reason": ""},
        {"source": "fep", "complex": "s/x", "pose": "b", "protein": "s/x_protein.pdb.gz", "ligand": "s/x_ligands.sdf.gz",
         "ligand_ref": 1, "max_identity": 0.1, "query_chain": "A", "test_chain": "t", "pb_failed": "bond_lengths",
         "kept": False, "reason": "PoseBusters: bond_lengths"},
    ])  # fmt: skip
    table.to_csv(tmp_path / "manifest.csv", index=False)
    (pose,) = combined_complexes(tmp_path / "manifest.csv", root="/data")
    assert pose.pose == "a" and pose.protein == Path("/data/s/x_protein.pdb.gz") and pose.ligand_ref == "0"


def test_a_missing_manifest_is_named(tmp_path):
    with pytest.raises(MolgenInputError, match="missing.csv: leakage manifest not found"):
        combined_complexes(tmp_path / "missing.csv")


def test_pdb_lines_reads_plain_and_gzipped_files_by_record(tmp_path):
    text = "HEADER x\nATOM      1  N   ALA A   1       0.000   0.000   0.000\nHETATM    2  O   HOH A   2       1.000   0.000   0.000\nEND\n"
    (tmp_path / "a.pdb").write_text(text)
    with gzip.open(tmp_path / "a.pdb.gz", "wt") as fh:
        fh.write(text)
    for name in ("a.pdb", "a.pdb.gz"):
        assert [ln[:6] for ln in pdb_lines(tmp_path / name)] == ["ATOM  ", "HETATM"]
        assert len(pdb_lines(tmp_path / name, ("ATOM",))) == 1


def test_crop_keeps_whole_residues_near_the_ligand_without_the_ligand(sources):
    path = sources["posebusters"] / "2unr_LIG.pdb.gz"
    text = crop_pdb(path, [[1.0, 1.0, 1.0]], cutoff=5.0, exclude_res_name="LIG")
    atoms = [(line[21], int(line[22:26])) for line in text.splitlines() if line.startswith("ATOM")]
    assert sorted(set(atoms)) == [("A", 1), ("A", 2), ("P", 1), ("P", 2)]
    assert all(atoms.count(r) == 4 for r in set(atoms))  # whole residues
    assert "LIG" not in text


def test_the_cli_writes_the_manifest_and_counts(sources, tmp_path, capsys):
    from molgen.cli import main

    out = tmp_path / "out"
    main(["data", "leakage", f"outdir={out}", "posebusters=false", f"relative_to={tmp_path}",
          f"test_receptors={sources['test']}/*/*_rec.pdb", f"sources.posebusters={sources['posebusters']}",
          f"sources.fep={sources['fep']}"])  # fmt: skip
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 4 and manifest["kept"].sum() == 3
    assert manifest.loc[0, "protein"] == "posebusters_308/1hom_LIG.pdb.gz"
    counts = pd.read_csv(out / "counts.csv").set_index("source")
    assert counts.loc["posebusters", "dropped_identity"] == 1 and counts.loc["fep", "kept"] == 2
    assert counts.loc["fep", "posebusters_not_checked"] == 2
    assert "dropped_identity" in capsys.readouterr().out


@pytest.mark.slow
def test_posebusters_dock_checks_pass_a_crystal_pose(tmp_path):
    pytest.importorskip("posebusters")
    pytest.importorskip("biotite")
    mini = Path(__file__).resolve().parents[2] / "data" / "demo" / "posebusters_mini"
    (pose,) = [p for p in posebusters_poses(mini) if p.complex == "6xg5_TOP"]
    assert leakage._check_complex([pose], 8.0, tmp_path) == {"TOP": ""}


def test_the_committed_manifest_is_whole_and_combines_676_checked_poses():
    path = Path(__file__).resolve().parents[2] / "docs" / "results" / "leakage_manifest.csv"
    table = pd.read_csv(path, keep_default_na=False)
    assert list(table.columns) == list(leakage.MANIFEST_COLUMNS) and len(table) == 308 + 1343
    poses = combined_complexes(path, root="/shared/data")
    assert len(poses) == 676 and {p.source for p in poses} == {"posebusters", "fep"}
    assert all(str(p.protein).startswith("/shared/data/") for p in poses)
    dropped = table[table["kept"].astype(str) == "False"]
    assert dropped["reason"].str.match(r"^(identity \d+% >= 30%|PoseBusters: )").all()

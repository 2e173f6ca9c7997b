"""`molgen data conformers`: deterministic across n_jobs, resumable, failures listed, RDKit-readable."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

import molgen.data.conformers as conformers
from molgen.chem.conformers import DEFAULT_SEED, embed_conformer
from molgen.data.conformers import build_conformers, read_smiles_file

ROOT = Path(__file__).resolve().parents[2]
MOSES3D = ROOT.parent / "shared" / "data" / "moses3d" / "moses3d_000.sdf.gz"

SMILES = [
    ("CC(=O)Nc1ccc(O)cc1", "paracetamol"),
    ("O=C(O)c1ccccc1", "benzoic_acid"),
    ("C1CC(C)C1(C)(C)(C)N", "bad_valence"),
    ("CCN(CC)C(=O)C=C", ""),
    ("c1ccccc1C(=O", "unclosed"),
    ("OC1CCNCC1", ""),
]


@pytest.fixture
def smiles_file(tmp_path: Path) -> Path:
    path = tmp_path / "mols.smi"
    path.write_text("# a comment\nSMILES name\n" + "\n".join(f"{s} {n}".strip() for s, n in SMILES) + "\n")
    return path


def _read(shard: Path) -> list[Chem.Mol]:
    with gzip.open(shard, "rb") as fh:
        return [m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)]


def _bytes(outdir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(outdir.glob("*.sdf.gz"))}


def test_read_smiles_file_formats(smiles_file, tmp_path):
    table = read_smiles_file(smiles_file)
    assert list(table["smiles"]) == [s for s, _ in SMILES] and table.at[0, "name"] == "paracetamol"
    csv = tmp_path / "mols.csv.gz"
    pd.DataFrame({"SMILES": ["CCO", "CCN"]}).to_csv(csv, index=False)
    assert list(read_smiles_file(csv)["smiles"]) == ["CCO", "CCN"]


def test_shards_are_identical_for_any_n_jobs_and_failures_are_listed(smiles_file, tmp_path):
    one = build_conformers(smiles_file, tmp_path / "one", n_jobs=1, shard_size=4, progress=False)
    two = build_conformers(smiles_file, tmp_path / "two", n_jobs=2, shard_size=4, progress=False)
    assert [p.name for p in one.shards] == ["mols_000.sdf.gz", "mols_001.sdf.gz"]
    assert _bytes(tmp_path / "one") == _bytes(tmp_path / "two")  # gzip without a timestamp: same bytes
    assert one.n_written == two.n_written == 4 and one.built == 2 and one.skipped == 0
    failures = pd.read_csv(tmp_path / "one" / "failures.csv")
    assert list(failures.columns) == ["index", "smiles", "reason"]
    assert list(failures["index"]) == [2, 4]
    assert failures.at[0, "smiles"] == "C1CC(C)C1(C)(C)(C)N" and "valence" in failures.at[0, "reason"]
    assert failures.at[1, "reason"].startswith("invalid SMILES")
    assert "failed: invalid SMILES 2" in " ".join(one.summary().split())


def test_records_keep_bond_orders_no_hydrogens_and_their_index(smiles_file, tmp_path):
    run = build_conformers(smiles_file, tmp_path, shard_size=4, progress=False)
    mols = _read(run.shards[0]) + _read(run.shards[1])
    assert [int(m.GetProp("index")) for m in mols] == [0, 1, 3, 5]
    assert [m.GetProp("_Name") for m in mols] == ["paracetamol", "benzoic_acid", "mols_3", "mols_5"]
    for mol in mols:
        assert all(a.GetAtomicNum() > 1 for a in mol.GetAtoms())
        assert mol.GetConformer().Is3D()
        same = Chem.MolFromSmiles(mol.GetProp("smiles"))
        Chem.RemoveStereochemistry(mol)
        assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(same)
    assert any(b.GetBondType() == Chem.BondType.DOUBLE for b in mols[0].GetBonds())  # C=O kept
    assert any(b.GetIsAromatic() for b in mols[0].GetBonds())  # the ring, aromatic once read back
    lines = gzip.decompress(run.shards[0].read_bytes()).decode().splitlines()
    n_atoms, n_bonds = int(lines[3][:3]), int(lines[3][3:6])
    bond_types = {int(line[6:9]) for line in lines[4 + n_atoms : 4 + n_atoms + n_bonds]}
    assert bond_types == {1, 2}  # Kekulé form: single and double, no aromatic type 4


def test_resume_skips_done_shards_and_a_killed_run_leaves_no_partial_file(smiles_file, tmp_path, monkeypatch):
    reference = build_conformers(smiles_file, tmp_path / "ref", shard_size=2, progress=False)
    out = tmp_path / "run"
    real = conformers.embed_record

    def dies_at_index_4(task):
        if task[0] == 4:
            raise KeyboardInterrupt  # the run is killed while shard 2 (indices 4, 5) is in progress
        return real(task)

    monkeypatch.setattr(conformers, "embed_record", dies_at_index_4)
    with pytest.raises(KeyboardInterrupt):
        build_conformers(smiles_file, out, shard_size=2, progress=False)
    assert sorted(p.name for p in out.glob("*.sdf.gz")) == ["mols_000.sdf.gz", "mols_001.sdf.gz"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    monkeypatch.setattr(conformers, "embed_record", real)
    resumed = build_conformers(smiles_file, out, shard_size=2, progress=False)
    assert (resumed.built, resumed.skipped) == (1, 2)
    assert _bytes(out) == _bytes(tmp_path / "ref") and resumed.n_written == reference.n_written == 4
    assert list(pd.read_csv(out / "failures.csv")["index"]) == [2, 4]


def test_resuming_with_other_settings_is_refused(smiles_file, tmp_path):
    from molgen.errors import MolgenInputError

    build_conformers(smiles_file, tmp_path, shard_size=4, limit=2, progress=False)
    with pytest.raises(MolgenInputError, match="shard_size: 4 -> 3"):
        build_conformers(smiles_file, tmp_path, shard_size=3, limit=2, progress=False)


@pytest.mark.skipif(not MOSES3D.is_file(), reason="shared data not present")
def test_the_recipe_reproduces_moses3d():
    with gzip.open(MOSES3D, "rb") as fh:
        ref = next(Chem.ForwardSDMolSupplier(fh))
    mol = embed_conformer(ref.GetProp("smiles"), DEFAULT_SEED + int(ref.GetProp("moses_train_index")))
    assert mol.GetNumAtoms() == ref.GetNumAtoms()
    diff = abs(mol.GetConformer().GetPositions() - ref.GetConformer().GetPositions()).max()
    assert diff < 1e-3  # the SD file's 4 decimals


def test_the_cli_runs_the_bundled_demo(tmp_path, capsys):
    from molgen.cli import main

    main(["data", "conformers", f"outdir={tmp_path}", "n_jobs=1", "limit=4", "progress=false"])
    out = capsys.readouterr().out
    assert "written" in out and (tmp_path / "smiles_demo_000.sdf.gz").is_file()
    assert (tmp_path / "failures.csv").is_file()

"""Manifests pair each ligand file with its own receptor (molgen.manifest, evaluate, molgen eval)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from molgen.errors import MolgenInputError
from molgen.evaluate import evaluate
from molgen.manifest import crossdocked_manifest, is_manifest, read_manifest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"
LIGAND = "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"
RECEPTOR = "5d7n_D_rec.pdb"
CHEAP = dict(n_jobs=1, vina=False, posebusters=False, strain=False, progress=False)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Two rows: a ligand beside the CSV (relative path) with an absolute receptor, and the same
    ligand by absolute path with no receptor."""
    (tmp_path / "ligs").mkdir()
    shutil.copy(DEMO / LIGAND, tmp_path / "ligs" / "a.sdf")
    path = tmp_path / "pairs.csv"
    path.write_text(f"ligand,receptor\nligs/a.sdf,{DEMO / RECEPTOR}\n{DEMO / LIGAND},\n")
    return path


def test_csv_manifest_pairs_each_ligand_with_its_receptor(manifest: Path) -> None:
    assert is_manifest(manifest)
    pairs = read_manifest(manifest)
    expected = [(str(manifest.parent / "ligs" / "a.sdf"), str(DEMO / RECEPTOR)), (str(DEMO / LIGAND), None)]
    assert pairs == expected
    df = evaluate(manifest, **CHEAP)
    assert list(df["receptor"].fillna("")) == [str(DEMO / RECEPTOR), ""]
    assert df["valid"].all() and df["error"].isna().all()
    assert df.loc[0, "clashes"] == 0 and pd.isna(df.loc[1, "clashes"])  # pocket metric only with a receptor


@pytest.mark.parametrize("text,match", [
    ("ligand,protein\na.sdf,rec.pdb\n", r"lacks column\(s\) \['receptor'\]"),
    ("ligand,receptor\n", "no rows"),
    (f"ligand,receptor\nabsent.sdf,{DEMO / RECEPTOR}\n", "line 2: ligand not found"),
    (f"ligand,receptor\n{DEMO / LIGAND},absent.pdb\n", "line 2: receptor not found"),
    (f"ligand,receptor\n,{DEMO / RECEPTOR}\n", "line 2: empty ligand"),
], ids=["column", "empty", "ligand", "receptor", "blank"])
def test_bad_manifest_names_the_csv(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MolgenInputError, match=match) as err:
        evaluate(path, **CHEAP)
    assert str(path) in str(err.value)


def test_manifest_refuses_a_receptor_and_a_missing_csv(manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match="give no receptor"):
        evaluate(manifest, DEMO / RECEPTOR, **CHEAP)
    with pytest.raises(MolgenInputError, match="absent.csv: manifest not found"):
        evaluate(tmp_path / "absent.csv", **CHEAP)


def test_crossdocked_folder_is_a_manifest(tmp_path: Path) -> None:
    root = tmp_path / "crossdocked"
    (root / "SIR3").mkdir(parents=True)
    for name in (LIGAND, RECEPTOR):
        shutil.copy(DEMO / name, root / "SIR3" / name)
    (root / "ligand_filenames.txt").write_text(f"SIR3/{LIGAND}\n")
    assert is_manifest(root) and not is_manifest(root / "SIR3")
    table = crossdocked_manifest(root, tmp_path / "out" / "pairs.csv")
    expected = [(str((root / "SIR3" / LIGAND).resolve()), str((root / "SIR3" / RECEPTOR).resolve()))]
    assert list(zip(table["ligand"], table["receptor"])) == expected
    assert read_manifest(tmp_path / "out" / "pairs.csv") == expected
    df = evaluate(root, **CHEAP)
    assert len(df) == 1 and df.loc[0, "receptor"] == expected[0][1]


def test_molgen_eval_cli_takes_a_manifest(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "molgen.cli", "eval", f"sdf={manifest}", "n_jobs=1",
                           "vina=false", "posebusters=false", "strain=false", f"outdir={out}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(out / "molecules.csv")
    assert len(table) == 2 and table.loc[0, "receptor"] == str(DEMO / RECEPTOR)  # receptor= default unused
    assert "| validity | 1.000 |" in proc.stdout


def test_crossdocked_test_set_pairs_every_ligand_with_its_receptor(shared_data: Path) -> None:
    table = crossdocked_manifest(shared_data / "crossdocked_test")
    assert len(table) == 100
    for ligand, receptor in zip(table["ligand"], table["receptor"]):
        assert Path(receptor).is_file() and Path(receptor).name == Path(ligand).name[:10] + ".pdb"

"""End to end through the real CLI: train a tiny model a few steps, sample ligands into an SDF."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"


def molgen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "molgen.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"molgen {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("train")
    molgen("train", "data=posebusters_mini", "model=egnn_small", "trainer.max_steps=3", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
           "task.module.val_samples=2", "task.module.val_sample_steps=3", "trainer.enable_progress_bar=false",
           f"paths.cache_dir={run / 'cache'}", f"hydra.run.dir={run}", "threads=1", cwd=run)
    ckpt = run / "model.pt"
    assert ckpt.is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    assert metrics["train/loss"].notna().any()
    return ckpt


@pytest.mark.parametrize("pocket", [
    ["ref_ligand={demo}/5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"],
    ["residues=[D:144,D:145,D:146,D:147,D:148,D:149,D:150,D:151,D:152,D:153]"],
    ["box_center=[24.2,29.7,-10.8]", "box_size=16"],
], ids=["ref_ligand", "residues", "box"])
def test_sample_writes_readable_sdf_for_each_pocket_definition(tiny_checkpoint, tmp_path, pocket):
    out = tmp_path / "out"
    args = [p.format(demo=DEMO) for p in pocket]
    proc = molgen("sample", f"ckpt={tiny_checkpoint}", f"receptor={DEMO / '5d7n_D_rec.pdb'}", *args,
                  "n_samples=4", "batch_size=2", "steps=5", "n_atoms=8", f"outdir={out}", "threads=1", cwd=tmp_path)
    assert "generated" in proc.stdout and "valid" in proc.stdout
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 4 and set(table["n_atoms"]) == {8}
    mols = [m for m in Chem.SDMolSupplier(str(out / "ligands.sdf")) if m is not None]
    assert len(mols) == int(table["valid"].sum())
    for m in mols:
        assert m.GetConformer().Is3D() and m.HasProp("qed")

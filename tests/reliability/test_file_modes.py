"""Every file ``molgen sample``, ``eval``, ``train`` and ``collect`` write is 0644 under umask 022.

The atomic writers write a :func:`tempfile.mkstemp` file (0600) and rename it; without a chmod the
results would be readable by their owner only, whatever the umask (issue 20).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # inherited by the CLI subprocesses
    yield
    os.umask(old)


def _run(molgen_cli, *args: str, cwd: Path) -> None:
    proc = molgen_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"molgen {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def test_sample_eval_train_collect_outputs_are_0644_under_umask_022(molgen_cli, tiny_checkpoint, tmp_path,
                                                                    umask_022, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the Vina receptor cache too
    sweep, run = tmp_path / "sweep", tmp_path / "train"
    _run(molgen_cli, "sample", "-m", "seed=0", f"ckpt={tiny_checkpoint}", "n_samples=2", "steps=3", "n_atoms=5",
         "threads=1", f"outdir={sweep}", cwd=tmp_path)
    _run(molgen_cli, "eval", f"sdf={sweep / '0' / 'ligands.sdf'}", f"receptor={DEMO / '5d7n_D_rec.pdb'}",
         "vina=true", "vina_dock=false", "posebusters=false", "strain=false", "n_jobs=1",
         f"outdir={tmp_path / 'eval'}", cwd=tmp_path)
    _run(molgen_cli, "train", "data=posebusters_mini", "model=egnn_small", "model.hidden=16", "model.n_layers=2",
         "trainer.max_steps=1", "trainer.enable_progress_bar=false", "task.module.val_samples=0", "threads=1",
         f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={run}", cwd=tmp_path)
    _run(molgen_cli, "collect", str(sweep), cwd=tmp_path)

    expected = ["sweep/0/ligands.sdf", "sweep/0/samples.csv", "sweep/0/summary.md", "sweep/0/batches/batch_0000.sdf",
                "sweep/collected.csv", "sweep/collected.md", "eval/molecules.csv", "eval/summary.md",
                "train/model.pt", "train/checkpoints/last.ckpt"]
    modes = {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777)
             for p in tmp_path.rglob("*") if p.is_file()}
    assert set(expected) <= set(modes), sorted(modes)
    assert any(name.startswith("xdg/molgen/receptors/") for name in modes)  # the cached Vina receptor
    assert {name: mode for name, mode in modes.items() if mode != "0o644"} == {}

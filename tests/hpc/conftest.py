"""Fixtures of the HPC tests: the CLI in a subprocess (one thread), a tiny checkpoint, train overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
REF_LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


def molgen_env() -> dict[str, str]:
    """The environment of a CLI subprocess: one thread each (two cores, other work running)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def molgen_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "molgen.cli", *args]


def run_molgen(*args: str, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess:
    """Run ``molgen ARGS`` and fail the test, with its output, when it does not exit 0."""
    proc = subprocess.run(molgen_command(*args), cwd=cwd, env=molgen_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"molgen {' '.join(args)} exited {proc.returncode}:\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def molgen_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``molgen_cli(*args, cwd=...)``: run the CLI, assert it succeeded, return the process."""
    return run_molgen


@pytest.fixture(scope="session")
def molgen_popen() -> Callable[..., subprocess.Popen]:
    """``molgen_popen(*args, cwd=..., **popen_kwargs)``: start the CLI without waiting."""
    def start(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(molgen_command(*args), cwd=cwd, env=molgen_env(), **kwargs)

    return start


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A molgen checkpoint of an untrained 2-layer EGNN, written by the real export path (what
    ``molgen train`` does after fitting): sampling behaves the same and costs a second."""
    from molgen.testing import write_untrained_checkpoint

    return write_untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt",
                                      ["model=egnn_small", "model.hidden=16", "model.n_layers=2",
                                       "task.module.sample_steps=3", "task.module.ema_decay=0"])


@pytest.fixture(scope="session")
def train_overrides(tmp_path_factory) -> list[str]:
    """Overrides of a fast training run on the bundled mini set (add the model, max_steps, the run dir)."""
    cache = tmp_path_factory.mktemp("cache")
    return ["data=posebusters_mini", "trainer.max_epochs=-1", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
            "+trainer.enable_model_summary=false", "task.module.val_samples=0", "threads=1",
            f"paths.cache_dir={cache}"]


@pytest.fixture(scope="session")
def small_model() -> list[str]:
    """Overrides of a small EGNN for the training runs of these tests."""
    return ["model=egnn_small", "model.hidden=32", "model.n_layers=2"]


@pytest.fixture(scope="session")
def demo_pocket_files() -> tuple[Path, Path]:
    """(receptor PDB, reference ligand SDF) of the bundled demo complex."""
    return RECEPTOR, REF_LIGAND

"""Fixtures of the reliability tests: the demo pocket, a tiny model, a tiny checkpoint, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"
ELEMENTS = ["C", "N", "O", "S", "P", "F", "Cl", "Br", "I"]


def _molgen_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run_molgen(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "molgen.cli", *args], cwd=cwd, env=_molgen_env(),
                          capture_output=True, text=True, timeout=timeout)


def _popen_molgen(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "molgen.cli", *args], cwd=cwd, env=_molgen_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="session")
def molgen_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``molgen_cli(*args, cwd=...)``: run ``python -m molgen.cli`` with one thread, capture output."""
    return _run_molgen


@pytest.fixture(scope="session")
def molgen_popen() -> Callable[..., subprocess.Popen]:
    """``molgen_popen(*args, cwd=...)``: start ``python -m molgen.cli`` without waiting."""
    return _popen_molgen


def _tiny_task(max_pocket_atoms: int = 4000, hidden: int = 16):
    from molgen.diffusion.processes import VPProcess
    from molgen.diffusion.samplers import DDPMSampler
    from molgen.diffusion.schedules import CosineSchedule
    from molgen.nn.egnn import EGNN
    from molgen.tasks.ligand_pocket import LigandPocketTask

    torch.manual_seed(0)
    net = EGNN(n_types=9, hidden=hidden, n_layers=2, context_dim=27, context_cutoff=6.0)
    task = LigandPocketTask(net, VPProcess(CosineSchedule()), DDPMSampler(),
                            optimizer=partial(torch.optim.Adam, lr=1e-3), elements=ELEMENTS, ema_decay=0,
                            max_pocket_atoms=max_pocket_atoms, sample_steps=4)
    return task.eval()


@pytest.fixture(scope="session")
def make_tiny_task() -> Callable[..., object]:
    """``make_tiny_task(max_pocket_atoms=4000)``: an untrained 2-layer EGNN ligand-pocket task."""
    return _tiny_task


@pytest.fixture(scope="session")
def demo_pocket():
    """The demo receptor cut 6 A around its reference ligand (a small pocket: fast sampling)."""
    from molgen.io.pocket import read_pocket

    return read_pocket(DEMO / "5d7n_D_rec.pdb", ref_ligand=DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf",
                       cutoff=6.0)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A molgen checkpoint of an untrained small EGNN, written by the real export path.

    Built from the train config (``compose`` + ``instantiate`` + ``save_checkpoint``, what
    ``molgen train`` does after fitting) instead of a training run: loading and sampling behave
    the same and it costs a second instead of a minute.
    """
    from molgen.testing import write_untrained_checkpoint

    return write_untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt",
                                      ["model=egnn_small", "model.hidden=16", "model.n_layers=2",
                                       "task.module.sample_steps=5", "task.module.ema_decay=0"])

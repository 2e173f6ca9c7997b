"""The notebooks in notebooks/ are committed without outputs and run top to bottom (nbmake).

Each notebook is copied to a temporary folder and executed there with ``pytest --nbmake`` in a
subprocess (one thread), so what it writes (``outputs/``) stays out of the checkout. Notebooks
that need a bundled checkpoint skip, with the reason, while it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NEEDS_CHECKPOINT = {"01_ligands_in_pocket": "ligand_pocket", "02_backbones": "backbone"}


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"01_ligands_in_pocket", "02_backbones", "03_train_tiny"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    book = json.loads(path.read_text())
    for k, cell in enumerate(book["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, \
                f"{path.name}: cell {k} has outputs (clear them before committing)"
    assert "widgets" not in book.get("metadata", {}), f"{path.name}: widget state saved"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    pytest.importorskip("nbmake")
    task = NEEDS_CHECKPOINT.get(path.stem)
    if task is not None:
        from molgen.api import bundled_checkpoint
        from molgen.errors import MolgenInputError

        try:
            bundled_checkpoint(task)
        except MolgenInputError as exc:
            pytest.skip(f"{path.name} needs the bundled checkpoint: {exc}")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", "--nbmake-timeout=600", "-q",
                           "-p", "no:cacheprovider", f"--rootdir={tmp_path}", str(copy)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}"

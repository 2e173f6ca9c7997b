"""A quiet CLI (issue 20): no warnings from ``molgen sample|eval|train --cfg job`` on a fresh clone, and
``molgen train`` prints each log line once (Lightning's own console handler and Hydra's both printed
them), without Lightning's advertising tip or the LeafSpec deprecation of Lightning 2.6.6 on torch 2.13."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

_PREFIX = re.compile(r"^(\[[^\]]*\]\[[^\]]*\]\[[A-Z]+\] - |[A-Z]+: )")  # Hydra's and Lightning's formats


def _molgen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-m", "molgen.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"molgen {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.parametrize("command", ["sample", "eval", "train"])
def test_cfg_job_prints_no_warning(command, tmp_path):
    proc = _molgen(command, "--cfg", "job", cwd=tmp_path)
    assert proc.stderr == ""
    assert "Warning" not in proc.stdout and "deprecated" not in proc.stdout


def test_train_prints_every_line_once(tmp_path):
    run = tmp_path / "run"
    proc = _molgen("train", "data=posebusters_mini", "trainer.max_steps=2",
                   "trainer.enable_progress_bar=false", "threads=1", f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={run}", cwd=tmp_path)
    printed = proc.stdout + proc.stderr
    messages = [_PREFIX.sub("", line).strip() for line in printed.splitlines()]
    twice = {m: n for m, n in Counter(messages).items() if n > 1 and m.strip("-")}  # table rules may repeat
    assert twice == {}
    assert "GPU available" in printed and "Trainer.fit` stopped" in printed  # Lightning's lines: once
    assert "Tip:" not in printed and "LeafSpec" not in printed and "Warning" not in printed
    log = (run / "train.log").read_text()
    assert log.count("GPU available") == 1  # Lightning's lines also reach the run's log file

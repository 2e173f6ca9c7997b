"""Resume after a killed job: `molgen train ckpt_path=last hydra.run.dir=<old run>`.

A run is killed (SIGKILL) once it has checkpointed step K; resumed with ``ckpt_path=last`` it
ends at the same global step as an uninterrupted run with the same seed, its ``metrics.csv``
goes on from where the checkpoint was (every step logged once), and the loss at every step equals
the uninterrupted run's to a relative 1e-5 (identical batches, times and noise: the random
states are checkpointed too). One batch per epoch makes every step an epoch boundary, so a kill
at any step resumes exactly (Lightning restarts an interrupted epoch's data loader).
"""

from __future__ import annotations

import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch


MAX_STEPS = 6
KILL_AFTER_STEP = 3


def _overrides(train_overrides, small_model, run) -> list[str]:
    return [*train_overrides, *small_model, "data.limit=8", "data.batch_size=32", "+trainer.limit_val_batches=0",
            "callbacks.checkpoint.every_n_train_steps=1", "callbacks.checkpoint.monitor=null",
            "callbacks.checkpoint.save_top_k=-1", "callbacks.checkpoint.save_last=true", "~callbacks.last",
            "logger.csv.flush_logs_every_n_steps=1",
            f"trainer.max_steps={MAX_STEPS}", f"hydra.run.dir={run}"]


def _train_losses(run) -> pd.Series:
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    rows = metrics.dropna(subset=["train/loss"])
    assert rows["step"].is_unique, f"steps logged twice: {rows['step'].tolist()}"
    return rows.set_index("step")["train/loss"]


def _step(ckpt) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])


@pytest.mark.slow
def test_resume_after_kill_continues_steps_logs_and_losses(molgen_cli, molgen_popen, train_overrides, small_model,
                                                           tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reference = molgen_popen("train", *_overrides(train_overrides, small_model, straight), cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = molgen_popen("train", *_overrides(train_overrides, small_model, killed), cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 400
        while not list((killed / "checkpoints").glob(f"*-step{KILL_AFTER_STEP}.ckpt")):
            assert victim.poll() is None, "the run to kill ended before its checkpoint appeared"
            assert time.monotonic() < deadline, "no checkpoint appeared in time"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
    killed_at = _step(killed / "checkpoints" / "last.ckpt")
    # last.ckpt is written just after the step checkpoint: the kill may land between the two
    assert KILL_AFTER_STEP - 1 <= killed_at < MAX_STEPS, f"killed too late (last checkpoint at step {killed_at})"
    assert not (killed / "model.pt").exists()

    molgen_cli("train", *_overrides(train_overrides, small_model, killed), "ckpt_path=last", cwd=tmp_path)
    _, err = reference.communicate(timeout=400)
    assert reference.returncode == 0, err[-3000:]

    assert _step(killed / "checkpoints" / "last.ckpt") == _step(straight / "checkpoints" / "last.ckpt") == MAX_STEPS
    assert (killed / "model.pt").is_file()
    log = (killed / "train.log").read_text()
    assert "Restoring states from the checkpoint" in log and "resume: kept" in log
    resumed, uninterrupted = _train_losses(killed), _train_losses(straight)
    assert list(resumed.index) == list(uninterrupted.index) == list(range(MAX_STEPS))
    np.testing.assert_allclose(resumed.to_numpy(), uninterrupted.to_numpy(), rtol=1e-5, atol=0)


def test_resume_without_a_checkpoint_names_the_missing_file(tmp_path):
    from molgen.commands.train import _resolve_ckpt
    from molgen.errors import MolgenInputError

    with pytest.raises(MolgenInputError, match="last.ckpt"):
        _resolve_ckpt("last", tmp_path)
    assert _resolve_ckpt(None, tmp_path) is None

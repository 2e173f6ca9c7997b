"""`molgen train init_from=...`: fine-tuning starts from a checkpoint's weights, or says why not."""

from __future__ import annotations

import pytest
import torch

from molgen.commands.train import build
from molgen.config import compose_run
from molgen.errors import MolgenInputError
from molgen.testing import write_untrained_checkpoint

SMALL = ["model=egnn_small", "model.hidden=16", "model.n_layers=2", "data=posebusters_mini", "logger=[]",
         "callbacks=[]"]


def _build(tmp_path, overrides):
    return build(compose_run("train", SMALL + overrides, tmp_path))[1]


def test_init_from_loads_net_and_ema(tmp_path):
    torch.manual_seed(123)
    ckpt = write_untrained_checkpoint(tmp_path / "a.pt", SMALL)
    saved = torch.load(ckpt, weights_only=True)["state_dict"]
    fresh = _build(tmp_path, ["seed=7"])
    tuned = _build(tmp_path, ["seed=7", f"init_from={ckpt}"])
    name = next(k for k in saved if k.startswith("net.") and k.endswith("weight"))
    assert not torch.equal(fresh.state_dict()[name], saved[name])  # the seed alone would differ
    for k, v in saved.items():
        assert torch.equal(tuned.state_dict()[k], v), k


def test_init_from_other_architecture_names_the_file(tmp_path):
    ckpt = write_untrained_checkpoint(tmp_path / "wide.pt", [*SMALL, "model.hidden=32"])
    with pytest.raises(MolgenInputError, match="wide.pt.*do not fit"):
        _build(tmp_path, [f"init_from={ckpt}"])

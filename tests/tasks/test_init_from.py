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


BOND_SMALL = ["experiment=molecule_bonds_cpu", "model.hidden=16", "model.edge_dim=8", "model.n_layers=2",
              "logger=[]", "callbacks=[]"]


def test_init_from_adds_self_conditioning_inputs_at_zero(tmp_path):
    """A self-conditioning network fine-tuned from one without starts out computing the same."""
    from molgen.checkpoint import load_task

    ckpt = write_untrained_checkpoint(tmp_path / "plain.pt", [*BOND_SMALL, "model.self_condition=false"])
    old = load_task(ckpt)
    tuned = build(compose_run("train", [*BOND_SMALL, "model.self_condition=true", f"init_from={ckpt}"], tmp_path))[1]
    assert tuned.net.self_condition and not old.net.self_condition
    w_old, w_new = old.net.embed_e.weight, tuned.net.embed_e.weight
    assert w_new.shape[1] > w_old.shape[1]
    assert torch.equal(w_new[:, :w_old.shape[1]], w_old) and not w_new[:, w_old.shape[1]:].any()
    sizes = [5, 7]
    a = old.generate(sizes, steps=3, generator=torch.Generator().manual_seed(1))
    b = tuned.generate(sizes, steps=3, generator=torch.Generator().manual_seed(1))
    for (x, _), (y, _) in zip(a, b):
        assert x.elements == y.elements
        assert torch.allclose(torch.as_tensor(x.pos), torch.as_tensor(y.pos), atol=1e-5)


def test_init_from_self_conditioned_into_plain_is_refused(tmp_path):
    ckpt = write_untrained_checkpoint(tmp_path / "sc.pt", [*BOND_SMALL, "model.self_condition=true"])
    with pytest.raises(MolgenInputError, match="sc.pt.*do not fit"):
        build(compose_run("train", [*BOND_SMALL, "model.self_condition=false", f"init_from={ckpt}"], tmp_path))

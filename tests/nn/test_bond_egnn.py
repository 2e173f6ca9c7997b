"""The bond-aware EGNN: E(3) equivariance (reflections included), atom permutations permute bonds."""

from __future__ import annotations

import pytest
import torch

from molgen.diffusion.molecule_flow import MoleculePrediction
from molgen.diffusion.molecule_state import MoleculeState, all_pairs
from molgen.nn.bond_egnn import BondEGNN
from molgen.testing import assert_equivariant


def _net(**kw) -> BondEGNN:
    torch.manual_seed(0)
    return BondEGNN(n_types=4, hidden=16, edge_dim=8, n_layers=2, **kw).double()


def _inputs(sizes=(6, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    pairs = all_pairs(batch)
    n = batch.numel()
    return dict(pos=torch.randn(n, 3, generator=g, dtype=torch.float64) * 1.5,
                atom_types=torch.randint(0, 4, (n,), generator=g), charges=torch.randint(0, 3, (n,), generator=g),
                bond_types=torch.randint(0, 5, (pairs.shape[1],), generator=g), pairs=pairs,
                t=torch.rand(len(sizes), generator=g, dtype=torch.float64), batch=batch)


def _flat(net, cond=None):
    def fn(**kw):
        out = net(**kw, cond=cond)
        return out.x0, out.atom_logits, out.charge_logits, out.bond_logits
    return fn


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
@pytest.mark.parametrize("self_condition", [False, True], ids=["plain", "self-conditioned"])
def test_bond_egnn_is_e3_equivariant(reflect, self_condition):
    net = _net(self_condition=self_condition)
    inputs = _inputs()
    if self_condition:  # the previous clean estimate is an input too: it rotates with the rest
        prev = net(**inputs)

        def call(cond_x0, **kw):
            cond = MoleculePrediction(cond_x0, prev.atom_logits, prev.charge_logits, prev.bond_logits)
            return _flat(net, cond)(**kw)
        assert_equivariant(call, {**inputs, "cond_x0": prev.x0}, positions=["pos"], vectors=["cond_x0"],
                           outputs=("vector", "invariant", "invariant", "invariant"), reflect=reflect, atol=1e-8)
        return
    assert_equivariant(_flat(net), inputs, positions=["pos"],
                       outputs=("vector", "invariant", "invariant", "invariant"), reflect=reflect, atol=1e-8)


def test_bond_egnn_output_is_zero_com_and_translation_free():
    net, inputs = _net(), _inputs()
    out = net(**inputs)
    shifted = net(**{**inputs, "pos": inputs["pos"] + torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)})
    torch.testing.assert_close(out.x0, shifted.x0)
    for g in range(2):
        assert out.x0[inputs["batch"] == g].mean(0).abs().max() < 1e-10


def test_permuting_atoms_permutes_atom_outputs_and_bonds():
    net, inputs = _net(), _inputs(sizes=(7,))
    state = MoleculeState(inputs["pos"], inputs["atom_types"], inputs["charges"], inputs["bond_types"],
                          inputs["pairs"], inputs["batch"], 1)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(5))
    moved = state.permute(perm)
    a = net(state.pos, state.atom_types, state.charges, state.bond_types, state.pairs, inputs["t"], state.batch)
    b = net(moved.pos, moved.atom_types, moved.charges, moved.bond_types, moved.pairs, inputs["t"], moved.batch)
    torch.testing.assert_close(b.x0, a.x0[perm])
    torch.testing.assert_close(b.atom_logits, a.atom_logits[perm])
    dense = torch.zeros(7, 7, 5, dtype=torch.float64)
    dense[state.pairs[0], state.pairs[1]] = a.bond_logits
    dense = dense + dense.transpose(0, 1)
    torch.testing.assert_close(b.bond_logits, dense[perm][:, perm][moved.pairs[0], moved.pairs[1]])


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
def test_bond_egnn_with_a_pocket_is_e3_equivariant_in_the_pocket_frame(reflect):
    torch.manual_seed(0)
    net = BondEGNN(n_types=4, hidden=16, edge_dim=8, n_layers=2, context_dim=5, context_cutoff=6.0,
                   context_layers=1, context_encoder_cutoff=4.0).double()
    inputs = _inputs()
    g = torch.Generator().manual_seed(3)
    c_pos = torch.randn(30, 3, generator=g, dtype=torch.float64) * 3
    c_feat = torch.randn(30, 5, generator=g, dtype=torch.float64)
    c_batch = torch.repeat_interleave(torch.arange(2), torch.tensor([14, 16]))

    def fn(c_pos, **kw):
        out = net(**kw, context=net.encode_context(c_pos, c_feat, c_batch))
        return out.x0, out.atom_logits, out.charge_logits, out.bond_logits
    assert_equivariant(fn, {**inputs, "c_pos": c_pos}, positions=["pos", "c_pos"],
                       outputs=("position", "invariant", "invariant", "invariant"), reflect=reflect, atol=1e-8)
    ctx = net.encode_context(c_pos, c_feat, c_batch)
    with_pocket, without = net(**inputs, context=ctx), net(**inputs)
    assert not torch.allclose(with_pocket.atom_logits, without.atom_logits), "the pocket must matter"


def test_a_pocket_needs_a_context_path():
    with pytest.raises(ValueError, match="context_dim=0"):
        _net().encode_context(torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))

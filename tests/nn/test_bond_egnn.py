"""The bond-aware EGNN: E(3) equivariance (reflections included), atom permutations permute bonds."""

from __future__ import annotations

import pytest
import torch

from molgen.nn.bond_egnn import BondEGNN
from molgen.testing import (assert_bond_net_equivariant, assert_bond_net_permutation_equivariant,
                            random_molecule_inputs)


def _net(**kw) -> BondEGNN:
    torch.manual_seed(0)
    return BondEGNN(n_types=4, hidden=16, edge_dim=8, n_layers=2, **kw).double()


def _inputs(sizes=(6, 4), seed=0):
    return random_molecule_inputs(sizes, 4, seed=seed)


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
@pytest.mark.parametrize("self_condition", [False, True], ids=["plain", "self-conditioned"])
def test_bond_egnn_is_e3_equivariant(reflect, self_condition):
    # self-conditioned: the previous clean estimate is an input too, it rotates with the rest
    assert_bond_net_equivariant(_net(self_condition=self_condition), _inputs(), reflect=reflect,
                                self_condition=self_condition)


def test_bond_egnn_output_is_zero_com_and_translation_free():
    net, inputs = _net(), _inputs()
    out = net(**inputs)
    shifted = net(**{**inputs, "pos": inputs["pos"] + torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)})
    torch.testing.assert_close(out.x0, shifted.x0)
    for g in range(2):
        assert out.x0[inputs["batch"] == g].mean(0).abs().max() < 1e-10


def test_permuting_atoms_permutes_atom_outputs_and_bonds():
    assert_bond_net_permutation_equivariant(_net(), _inputs(sizes=(7,)), seed=5)


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
    assert_bond_net_equivariant(net, inputs, reflect=reflect, pocket=(c_pos, c_feat, c_batch))
    ctx = net.encode_context(c_pos, c_feat, c_batch)
    with_pocket, without = net(**inputs, context=ctx), net(**inputs)
    assert not torch.allclose(with_pocket.atom_logits, without.atom_logits), "the pocket must matter"


def test_a_pocket_needs_a_context_path():
    with pytest.raises(ValueError, match="context_dim=0"):
        _net().encode_context(torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))

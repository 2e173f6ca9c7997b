"""The bond-aware TFN: E(3) equivariance (reflections included, as the TFN claims), translation,
atom permutations permute bonds, self-conditioning, the pocket path, a training loss via the task."""

from __future__ import annotations

import pytest
import torch

from molgen.nn.bond_tfn import BondTFN
from molgen.testing import (assert_bond_net_equivariant, assert_bond_net_permutation_equivariant,
                            random_molecule_inputs)


def _net(**kw) -> BondTFN:
    torch.manual_seed(0)
    return BondTFN(n_types=4, irreps_hidden="8x0e + 4x1o + 2x2e", n_layers=2, hidden=16, edge_dim=8,
                   radial_hidden=16, **kw).double()


def _pocket(seed=3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(30, 3, generator=g, dtype=torch.float64) * 3,
            torch.randn(30, 5, generator=g, dtype=torch.float64), torch.repeat_interleave(torch.arange(2), torch.tensor([14, 16])))


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
@pytest.mark.parametrize("self_condition", [False, True], ids=["plain", "self-conditioned"])
def test_bond_tfn_is_e3_equivariant(reflect, self_condition):
    net = _net(self_condition=self_condition)
    assert_bond_net_equivariant(net, random_molecule_inputs((6, 4), 4), reflect=reflect,
                                self_condition=self_condition)


def test_bond_tfn_output_is_zero_com_and_translation_free():
    net, inputs = _net(), random_molecule_inputs((6, 4), 4)
    out = net(**inputs)
    shifted = net(**{**inputs, "pos": inputs["pos"] + torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)})
    torch.testing.assert_close(out.x0, shifted.x0)
    torch.testing.assert_close(out.bond_logits, shifted.bond_logits)
    for g in range(2):
        assert out.x0[inputs["batch"] == g].mean(0).abs().max() < 1e-10
    assert out.atom_logits.shape == (10, 4) and out.charge_logits.shape == (10, 3)
    assert out.bond_logits.shape == (inputs["pairs"].shape[1], 5)


def test_permuting_atoms_permutes_atom_outputs_and_bonds():
    assert_bond_net_permutation_equivariant(_net(), random_molecule_inputs((7, 5), 4), seed=5)


def test_bonds_are_read_and_self_conditioning_is_used():
    net, inputs = _net(self_condition=True), random_molecule_inputs((6, 4), 4)
    plain = net(**inputs)
    other_bonds = net(**{**inputs, "bond_types": (inputs["bond_types"] + 1) % 5})
    assert not torch.allclose(plain.atom_logits, other_bonds.atom_logits), "the noisy bonds must matter"
    conditioned = net(**inputs, cond=plain.detached())
    assert not torch.allclose(plain.bond_logits, conditioned.bond_logits), "the previous estimate must matter"
    assert torch.isfinite(conditioned.x0).all()


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
def test_bond_tfn_with_a_pocket_is_e3_equivariant_in_the_pocket_frame(reflect):
    net = _net(context_dim=5, context_cutoff=6.0, context_layers=1, context_encoder_cutoff=4.0,
               context_irreps="6x0e + 2x1o")
    inputs, pocket = random_molecule_inputs((6, 4), 4), _pocket()
    assert_bond_net_equivariant(net, inputs, reflect=reflect, pocket=pocket)
    with_pocket, without = net(**inputs, context=net.encode_context(*pocket)), net(**inputs)
    assert not torch.allclose(with_pocket.atom_logits, without.atom_logits), "the pocket must matter"


def test_a_pocket_needs_a_context_path():
    with pytest.raises(ValueError, match="context_dim=0"):
        _net().encode_context(torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))


def _molecule(n, bonds, seed):
    """A molecule as the QM9 data module gives it; ``bonds``: (i, j, type) rows."""
    from torch_geometric.data import Data

    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, 3, generator=g)
    b = torch.tensor(bonds)
    return Data(pos=pos - pos.mean(0), atom_types=torch.randint(0, 4, (n,), generator=g),
                charges=torch.ones(n, dtype=torch.long), bond_index=b[:, :2].T.contiguous(),
                bond_types=b[:, 2], num_nodes=n)


def test_training_loss_through_the_bond_molecule_task():
    from hydra.utils import instantiate
    from torch_geometric.data import Batch

    from molgen.config import compose

    torch.manual_seed(0)
    small = ["model.irreps_hidden=8x0e + 4x1o", "model.n_layers=2", "model.hidden=16", "model.edge_dim=8",
             "model.radial_hidden=16", "model.self_condition=true", "task.module.self_condition_prob=1.0"]
    cfg = compose("train", ["experiment=molecule_bonds_cpu", "model=bond_tfn"] + small)
    task = instantiate(cfg.task.module)
    assert isinstance(task.net, BondTFN) and task.net.encoder is None
    batch = Batch.from_data_list([_molecule(5, [(0, 1, 1), (1, 2, 2), (1, 3, 1), (3, 4, 1)], 0),
                                  _molecule(4, [(0, 1, 1), (1, 2, 3), (0, 3, 1)], 1)])
    out = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
    assert set(out) == {"loss", "loss_pos", "loss_atom_types", "loss_charges", "loss_bonds"}
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in task.net.out_bonds.parameters())
    assert task.net.layers[0].ll.edge_rad.weight.grad.abs().sum() > 0  # pair features reach the messages

"""Pocket repulsion of the clean estimate: moves clashing ligand atoms out, leaves the rest, and is
E(3)- and permutation-equivariant."""

from __future__ import annotations

import pytest
import torch

from molgen.diffusion.pocket_repulsion import PocketRepulsion

torch.set_num_threads(1)


def _random_orthogonal(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    return q


def _scene(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pocket = torch.randn(60, 3, generator=g, dtype=torch.float64) * 5.0
    ligand = torch.randn(12, 3, generator=g, dtype=torch.float64) * 3.0
    return ligand, pocket


def test_an_atom_inside_a_pocket_atom_sphere_moves_out_along_the_pair():
    pocket = torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64)
    pos = torch.tensor([[1.0, 0.0, 0.0], [5.0, 5.0, 5.0]], dtype=torch.float64)
    out = PocketRepulsion(min_distance=2.8, iterations=30).push(pos, pocket)
    assert out[0, 1:].abs().max() < 1e-12 and out[0, 0] == pytest.approx(2.8, abs=1e-3)
    torch.testing.assert_close(out[1], pos[1])  # out of reach: untouched


def test_clashes_shrink_and_far_atoms_stay():
    ligand, pocket = _scene(1)
    rep = PocketRepulsion(min_distance=2.8)
    out = rep.push(ligand, pocket)
    d_in, d_out = torch.cdist(ligand, pocket).min(1).values, torch.cdist(out, pocket).min(1).values
    clashing = d_in < 2.8
    assert clashing.any(), "the scene should have clashes to remove"
    assert (d_out[clashing] > d_in[clashing]).all() and d_out.min() > d_in.min()
    far = torch.cdist(ligand, pocket).min(1).values > 2 * 2.8
    torch.testing.assert_close(out[far], ligand[far])


@pytest.mark.parametrize("seed", [0, 1])
def test_rotation_reflection_translation_and_permutation_equivariance(seed):
    from molgen.diffusion.molecule_state import all_pairs

    ligand, pocket = _scene(seed)
    pairs = all_pairs(torch.tensor([0] * 5 + [1] * 7))  # two molecules
    rep = PocketRepulsion(min_distance=3.0, keep_within=4.0)
    out = rep.push(ligand, pocket, pairs)
    q = _random_orthogonal(seed)
    q_reflect = q @ torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    shift = torch.tensor([3.0, -7.0, 11.0], dtype=torch.float64)
    for rot in (q, q_reflect):
        moved = rep.push(ligand @ rot.T + shift, pocket @ rot.T + shift, pairs)
        torch.testing.assert_close(moved, out @ rot.T + shift)
    perm = torch.randperm(ligand.shape[0], generator=torch.Generator().manual_seed(seed))
    inverse = torch.argsort(perm)  # atom perm[k] is now atom k
    torch.testing.assert_close(rep.push(ligand[perm], pocket, inverse[pairs]), out[perm])
    pocket_perm = torch.randperm(pocket.shape[0], generator=torch.Generator().manual_seed(seed + 7))
    torch.testing.assert_close(rep.push(ligand, pocket[pocket_perm], pairs), out)


def test_held_pairs_move_a_clashing_chain_whole_instead_of_stretching_its_bonds():
    from molgen.diffusion.molecule_state import all_pairs

    chain = torch.tensor([[1.5 * k, 0.0, 0.0] for k in range(5)], dtype=torch.float64)
    pocket = torch.tensor([[3.0, -1.0, 0.0]], dtype=torch.float64)  # 1 A below the middle atom
    pairs = all_pairs(torch.zeros(5, dtype=torch.long))
    loose = PocketRepulsion(min_distance=2.8, iterations=40, keep_within=0.0).push(chain, pocket, pairs)
    held = PocketRepulsion(min_distance=2.8, iterations=40, keep_within=2.0).push(chain, pocket, pairs)

    def bonds(x):
        return (x[1:] - x[:-1]).norm(dim=-1)

    assert (bonds(loose) - 1.5).abs().max() > 0.3  # the middle atom alone moved out
    assert (bonds(held) - 1.5).abs().max() < 0.1
    assert torch.cdist(held, pocket).min() > 2.7 and held[0, 1] > 0.3  # the neighbours moved along


def test_the_bound_guide_leaves_estimates_below_stop_time_as_predicted():
    from molgen.diffusion.molecule_flow import MoleculePrediction
    from molgen.diffusion.molecule_state import MoleculeState, all_pairs

    ligand, pocket = _scene(1)
    batch = torch.zeros(len(ligand), dtype=torch.long)
    pairs = all_pairs(batch)
    no_bonds = torch.zeros(pairs.shape[1], dtype=torch.long)
    state = MoleculeState(ligand, batch, batch, no_bonds, pairs, batch, 1)
    pred = MoleculePrediction(ligand, torch.zeros(12, 4), torch.zeros(12, 3), torch.zeros(pairs.shape[1], 5))
    guide = PocketRepulsion(min_distance=2.8, stop_time=0.2).bind(pocket)
    assert guide(pred, state, 0.1) is pred
    pushed = PocketRepulsion(min_distance=2.8).push(ligand, pocket, pairs)
    out = guide(pred, state, 0.5)
    torch.testing.assert_close(out.x0, pushed)
    assert out.bond_logits is pred.bond_logits


def test_bad_settings_are_refused_with_their_name():
    for kwargs, name in (({"min_distance": 0.0}, "min_distance"), ({"iterations": 0}, "iterations"),
                         ({"rate": 1.5}, "rate"), ({"stop_time": 1.0}, "stop_time"),
                         ({"keep_within": -1.0}, "keep_within")):
        with pytest.raises(ValueError, match=name):
            PocketRepulsion(**kwargs)


def test_clash_distance_gives_the_model_default_a_distance_or_none():
    from types import SimpleNamespace

    from molgen.errors import MolgenInputError
    from molgen.sampling_common import pocket_repulsion

    bonds, atoms_only = SimpleNamespace(predicts_bonds=True), SimpleNamespace()
    assert pocket_repulsion(bonds, None) == PocketRepulsion()
    assert pocket_repulsion(atoms_only, None) is None
    assert pocket_repulsion(bonds, 2.5).min_distance == 2.5
    assert pocket_repulsion(bonds, 0) is None
    for bad in (-1, "far", float("inf")):
        with pytest.raises(MolgenInputError, match="clash_distance"):
            pocket_repulsion(bonds, bad)

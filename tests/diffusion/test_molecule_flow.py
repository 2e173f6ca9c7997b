"""The bond-aware molecule flow: categorical marginals, prior alignment, noising and steps."""

from __future__ import annotations

import pytest
import torch

from molgen.diffusion.alignment import align_prior, kabsch_rotation
from molgen.diffusion.categorical import CategoricalFlow
from molgen.diffusion.molecule_flow import MoleculeFlow, MoleculePrediction
from molgen.diffusion.molecule_state import MoleculeState, all_pairs, pair_values
from molgen.testing import assert_zero_com, random_rotation

PRIOR = (0.5, 0.3, 0.15, 0.05)


def _flow(**kw) -> MoleculeFlow:
    return MoleculeFlow(CategoricalFlow((0.5, 0.3, 0.1, 0.1)), CategoricalFlow((0.1, 0.8, 0.1)),
                        CategoricalFlow((0.8, 0.1, 0.05, 0.05, 0.0)), **kw)


def _state(sizes=(5, 7), seed=0) -> MoleculeState:
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    pairs = all_pairs(batch)
    pos = torch.randn(batch.numel(), 3, generator=g, dtype=torch.float64)
    pos = pos - torch.zeros(len(sizes), 3, dtype=pos.dtype).index_add_(0, batch, pos)[batch] / torch.tensor(sizes)[batch, None]
    return MoleculeState(pos, torch.randint(0, 4, (batch.numel(),), generator=g),
                         torch.randint(0, 3, (batch.numel(),), generator=g),
                         torch.randint(0, 4, (pairs.shape[1],), generator=g), pairs, batch, len(sizes))


@pytest.mark.parametrize("t", [0.0, 0.3, 0.8, 1.0])
def test_categorical_interpolant_has_the_stated_marginals(t):
    flow = CategoricalFlow(PRIOR)
    x0 = torch.full((200_000,), 2)
    xt = flow.interpolate(x0, torch.full_like(x0, t, dtype=torch.float32), torch.Generator().manual_seed(0))
    freq = torch.bincount(xt, minlength=4).float() / x0.numel()
    torch.testing.assert_close(freq, flow.marginal(x0[:1], torch.tensor([t]))[0], atol=4e-3, rtol=0)


def test_reverse_step_with_the_true_clean_distribution_keeps_the_marginals():
    flow = CategoricalFlow(PRIOR)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.multinomial(torch.tensor([0.1, 0.2, 0.3, 0.4]), 100_000, replacement=True, generator=gen)
    t, s = 0.7, 0.4
    xt = flow.interpolate(x0, torch.full((x0.numel(),), t), gen)
    xs = flow.step(xt, torch.nn.functional.one_hot(x0, 4).float(), t, s, gen)
    stay = (xs == xt) | (xs == x0)
    assert bool(stay.all()), "a step only keeps x_t or jumps to the clean value"
    # per clean value: P(x_s == x_0) = 1 - s (1 - prior[x_0])
    for k in range(4):
        sel = x0 == k
        expected = 1 - s * (1 - PRIOR[k] / sum(PRIOR))
        assert abs((xs[sel] == k).float().mean().item() - expected) < 0.01


def test_the_last_step_takes_the_most_probable_category():
    flow = CategoricalFlow(PRIOR)
    probs = torch.tensor([[0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1]])
    assert flow.step(torch.tensor([3, 3]), probs, 0.1, 0.0).tolist() == [1, 0]


def test_categorical_prior_is_validated():
    with pytest.raises(ValueError, match="prior"):
        CategoricalFlow((1.0,))
    with pytest.raises(ValueError, match="prior"):
        CategoricalFlow((0.5, -0.1))


def test_kabsch_recovers_a_rotation():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 3, generator=gen, dtype=torch.float64)
    x = x - x.mean(0)
    rot = random_rotation(gen)
    r = kabsch_rotation(x, x @ rot.T)
    torch.testing.assert_close(x @ r, x @ rot.T)
    assert torch.det(r) > 0


def test_alignment_undoes_a_permutation_or_a_rotation_and_never_raises_the_cost():
    s = _state()
    gen = torch.Generator().manual_seed(3)
    perm = torch.cat([torch.randperm(5, generator=gen), 5 + torch.randperm(7, generator=gen)])
    torch.testing.assert_close(align_prior(s.pos[perm], s.pos, s.batch), s.pos)
    rotated = s.pos @ random_rotation(gen).T
    torch.testing.assert_close(align_prior(rotated, s.pos, s.batch, permute=False), s.pos)
    z = _flow().pos_prior(s.batch, gen).double()
    assert (align_prior(z, s.pos, s.batch) - s.pos).square().sum() <= (z - s.pos).square().sum()
    assert_zero_com(align_prior(z, s.pos, s.batch), s.batch)


def test_noise_at_t0_is_the_clean_state_and_at_t1_the_prior_in_zero_com():
    flow, s = _flow(align_prior=False), _state()
    gen = torch.Generator().manual_seed(0)
    x = flow.noise(s, torch.zeros(2), gen)
    assert torch.equal(x.atom_types, s.atom_types) and torch.equal(x.bond_types, s.bond_types)
    torch.testing.assert_close(x.pos, s.pos)
    x1 = flow.noise(s.replace(pos=s.pos.float()), torch.ones(2), gen)
    assert_zero_com(x1.pos, s.batch)


def test_training_times_follow_the_configured_beta():
    t = _flow(time_beta=(1.0, 2.0)).sample_time(100_000, torch.Generator().manual_seed(0))
    assert abs(t.mean().item() - 1 / 3) < 0.01  # Beta(1, 2): mean 1/3, towards the data
    u = _flow(time_beta=None).sample_time(100_000, torch.Generator().manual_seed(0))
    assert abs(u.mean().item() - 0.5) < 0.01


def test_loss_weights_are_checked_and_the_loss_is_their_weighted_sum():
    with pytest.raises(ValueError, match="unknown"):
        _flow(weights={"coords": 1.0})
    flow, s = _flow(weights={"pos": 2.0, "atom_types": 0.0, "charges": 0.0, "bonds": 0.0}), _state()
    s = s.replace(pos=s.pos.float())
    pred = MoleculePrediction(s.pos + 1.0, torch.zeros(12, 4), torch.zeros(12, 3), torch.zeros(s.pairs.shape[1], 5))
    out = flow.loss(pred, s)
    assert out["loss_pos"].item() == pytest.approx(3.0) and out["loss"].item() == pytest.approx(6.0)


def test_euler_step_moves_towards_the_prediction_and_ends_on_it():
    flow, s = _flow(), _state()
    s = s.replace(pos=s.pos.float())
    x = flow.prior([5, 7], torch.Generator().manual_seed(0))
    pred = MoleculePrediction(s.pos, torch.zeros(12, 4), torch.zeros(12, 3), torch.zeros(s.pairs.shape[1], 5))
    half = flow.step(x, pred, 1.0, 0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(half.pos, 0.5 * (x.pos + s.pos))
    end = flow.step(x, pred, 0.5, 0.0)
    torch.testing.assert_close(end.pos, s.pos)


def test_pairs_and_bond_lookup():
    batch = torch.tensor([0, 0, 0, 1, 1])
    pairs = all_pairs(batch)
    assert pairs.T.tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    vals = pair_values(pairs, 5, torch.tensor([[2, 3], [1, 4]]), torch.tensor([2, 1]))
    assert vals.tolist() == [0, 0, 2, 1]
    with pytest.raises(ValueError, match="different graphs"):
        pair_values(pairs, 5, torch.tensor([[0], [3]]), torch.tensor([1]))


def test_state_permutation_carries_the_bonds():
    s = _state()
    perm = torch.cat([torch.tensor([4, 2, 0, 1, 3]), 5 + torch.randperm(7)])
    p = s.permute(perm)
    dense = torch.zeros(12, 12, dtype=torch.long)
    dense[s.pairs[0], s.pairs[1]] = s.bond_types
    dense = dense + dense.T
    dense_p = torch.zeros(12, 12, dtype=torch.long)
    dense_p[p.pairs[0], p.pairs[1]] = p.bond_types
    assert torch.equal(dense_p + dense_p.T, dense[perm][:, perm])


def test_heun_correction_is_exact_for_a_fixed_prediction():
    flow, s = _flow(), _state()
    s = s.replace(pos=s.pos.float())
    x = flow.prior([5, 7], torch.Generator().manual_seed(0))
    pred = MoleculePrediction(s.pos, torch.zeros(12, 4), torch.zeros(12, 3), torch.zeros(s.pairs.shape[1], 5))
    euler = flow.step(x, pred, 0.8, 0.4)
    heun = flow.correct(x, euler, pred, pred, 0.8, 0.4)
    torch.testing.assert_close(heun.pos, euler.pos)  # straight path: both slopes agree
    assert torch.equal(heun.bond_types, euler.bond_types)


def test_stochastic_steps_keep_the_marginals_to_first_order():
    flow = CategoricalFlow(PRIOR, noise_rate=1.0)
    gen = torch.Generator().manual_seed(4)
    x0 = torch.multinomial(torch.tensor([0.1, 0.2, 0.3, 0.4]), 200_000, replacement=True, generator=gen)
    t, s = 0.5, 0.48
    xs = flow.step(flow.interpolate(x0, torch.full((x0.numel(),), t), gen),
                   torch.nn.functional.one_hot(x0, 4).float(), t, s, gen)
    for k in range(4):
        expected = 1 - s * (1 - PRIOR[k] / sum(PRIOR))
        assert abs((xs[x0 == k] == k).float().mean().item() - expected) < 0.01


def test_pocket_frame_flow_keeps_the_frame():
    """zero_com=False: the prior is not centred, the aligned noise is a permutation of the draw
    (no rotation: the pocket fixes orientation) and a step does not re-centre."""
    flow = _flow(zero_com=False)
    x = _state()
    x = x.replace(pos=x.pos.float() + torch.tensor([3.0, -2.0, 1.0]))
    prior = flow.prior([5, 7], torch.Generator().manual_seed(0))
    com = torch.zeros(2, 3).index_add_(0, prior.batch, prior.pos)
    assert com.abs().max() > 1e-3
    z = flow.pos_prior(x.batch, torch.Generator().manual_seed(3))
    aligned = align_prior(z, x.pos, x.batch, rotate=False)
    assert sorted(map(tuple, aligned.tolist())) == sorted(map(tuple, z.tolist()))
    pred = MoleculePrediction(x.pos + 0.5, torch.zeros(12, 4), torch.zeros(12, 3), torch.zeros(x.pairs.shape[1], 5))
    out = flow.step(x, pred, 0.5, 0.0)
    torch.testing.assert_close(out.pos, x.pos + 0.5)


def test_pocket_frame_noise_is_equivariant_to_moving_the_frame():
    """Rotating and translating a ligand (its pocket with it) moves x_t the same way when the
    prior draw moves with it: the coupling (a permutation) does not depend on the frame."""
    flow = _flow(zero_com=False)
    x = _state(seed=2)
    x = x.replace(pos=x.pos.float())
    rot, shift = random_rotation(torch.Generator().manual_seed(4)).float(), torch.tensor([1.0, 2.0, -3.0])
    z = flow.pos_prior(x.batch, torch.Generator().manual_seed(5))
    a = align_prior(z, x.pos, x.batch, rotate=False)
    b = align_prior(z @ rot.T + shift, x.pos @ rot.T + shift, x.batch, rotate=False)
    torch.testing.assert_close(a @ rot.T + shift, b, atol=1e-5, rtol=0)

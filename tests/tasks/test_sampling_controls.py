"""Sampling controls on a small untrained ligand-pocket model: fixed atoms, ODE, guidance, sizes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from molgen.diffusion.processes import FlowMatchingProcess, VPProcess
from molgen.diffusion.samplers import DDIMSampler, DDPMSampler, HeunSampler
from molgen.diffusion.schedules import CosineSchedule
from molgen.nn.egnn import EGNN
from molgen.tasks.ligand_pocket import Fragment, LigandPocketTask
from molgen.testing import random_rotation

ELEMENTS = ["C", "N", "O", "S", "P", "F", "Cl", "Br", "I"]


def _task(process=None, sampler=None) -> LigandPocketTask:
    torch.manual_seed(0)
    net = EGNN(n_types=9, hidden=16, n_layers=2, context_dim=6, context_cutoff=6.0)
    task = LigandPocketTask(net, process or VPProcess(CosineSchedule()), sampler or DDPMSampler(),
                            optimizer=partial(torch.optim.Adam, lr=1e-3), elements=ELEMENTS, ema_decay=0)
    return task.eval()


def _pocket(seed=0, n=40):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, 3, generator=g) * 4
    return pos - pos.mean(0), torch.randn(n, 6, generator=g)


FRAGMENT = Fragment(np.array([[0.0, 0.0, 0.0], [1.4, 0.0, 0.0], [2.1, 1.2, 0.0]]) + 5.0, ["C", "C", "O"])


@pytest.mark.parametrize("sampler", [DDPMSampler(), DDIMSampler(), HeunSampler()], ids=repr)
def test_fixed_atoms_unchanged_to_numerical_precision(sampler):
    task = _task(sampler=sampler)
    pos, feat = _pocket()
    center = torch.tensor([[5.0, -1.0, 2.0]])
    out = task.generate(pos, feat, [8, 6, 9], center=center, steps=6, resample=2, fragment=FRAGMENT,
                        generator=torch.Generator().manual_seed(1))
    for lig in out:
        np.testing.assert_allclose(lig.pos[:3], FRAGMENT.pos, atol=1e-5)
        assert lig.elements[:3] == FRAGMENT.elements
        assert not np.allclose(lig.pos[3:], lig.pos[3:].mean(0))  # the free atoms moved


def test_sampling_step_with_fixed_atoms_is_equivariant():
    """One DDIM step with pinned atoms: rotating pocket, current atoms and fragment rotates the
    result (the step the sampling loop takes, assembled from the task's own pieces)."""
    task = _task(sampler=DDIMSampler()).double()
    pos, feat = _pocket()
    pos, feat = pos.double(), feat.double()
    rot = random_rotation(torch.Generator().manual_seed(3))
    from molgen.tasks.base import FixedAtoms

    n = 7
    fixed = FixedAtoms(torch.tensor([True, True, False, False, False, False, False]),
                       torch.randn(n, 3, dtype=torch.float64), torch.zeros(n, dtype=torch.long))
    x = torch.randn(n, 3, dtype=torch.float64)
    h = torch.randn(n, 9, dtype=torch.float64)
    batch = torch.zeros(n, dtype=torch.long)
    t, s = torch.tensor(0.6, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)

    def step(ppos, x, fpos):
        ctx = task.net.encode_context(ppos, feat, torch.zeros(len(ppos), dtype=torch.long))
        out_x, _ = task._predict(task.net, x, h, t, batch, 1, ctx, 1.0)
        x_new = task.sampler.step(task.process, x, out_x, t, s, None)
        sn = s.expand(n)
        pinned = task.process.add_noise(fpos, torch.zeros_like(fpos), sn)
        return torch.where(fixed.mask[:, None], pinned, x_new)

    a = step(pos, x, fixed.pos)
    b = step(pos @ rot.T, x @ rot.T, fixed.pos @ rot.T)
    torch.testing.assert_close(b, a @ rot.T, atol=1e-8, rtol=0)


@pytest.mark.parametrize("process", [VPProcess(CosineSchedule()), FlowMatchingProcess()], ids=["vp", "fm"])
def test_ode_sampler_reproducible_with_seed(process):
    task = _task(process=process, sampler=HeunSampler())
    pos, feat = _pocket()
    runs = [task.generate(pos, feat, [6, 7], steps=5, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a.pos, b.pos)
        assert a.elements == b.elements
    other = task.generate(pos, feat, [6, 7], steps=5, generator=torch.Generator().manual_seed(8))
    assert not np.allclose(runs[0][0].pos, other[0].pos)


def _guided(*scales):
    """The network's conditional and unconditional outputs for one noisy ligand in a pocket, and
    ``_predict`` at each guidance scale."""
    task = _task()
    pos, feat = _pocket()
    ctx = task.net.encode_context(pos, feat, torch.zeros(len(pos), dtype=torch.long))
    x, h = torch.randn(5, 3), torch.randn(5, 9)
    batch = torch.zeros(5, dtype=torch.long)
    t = torch.tensor(0.4)
    cond = task.net(x, h, t.expand(1), batch, ctx)
    uncond = task.net(x, h, t.expand(1), batch, None)
    return cond, uncond, [task._predict(task.net, x, h, t, batch, 1, ctx, w) for w in scales]


def test_guidance_scale_zero_and_one_reduce_to_unconditional_and_conditional():
    cond, uncond, (one, zero) = _guided(1.0, 0.0)
    for got, want in ((one, cond), (zero, uncond)):
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)
    assert not torch.allclose(cond[0], uncond[0])


def test_guidance_has_a_weight_for_the_coordinates_and_one_for_the_atom_features():
    from molgen.diffusion.guidance import GuidanceScale

    cond, uncond, (got,) = _guided(GuidanceScale(positions=1.0, chemistry=0.0))
    torch.testing.assert_close(got[0], cond[0])
    torch.testing.assert_close(got[1], uncond[1])


@pytest.mark.parametrize("value, want", [(0.5, (0.5, 0.5)), (2, (2.0, 2.0)), ([1, 0.5], (1.0, 0.5)),
                                         ((0, 1), (0.0, 1.0))])
def test_guidance_scale_reads_a_number_or_two(value, want):
    from molgen.diffusion.guidance import GuidanceScale

    g = GuidanceScale.parse(value)
    assert (g.positions, g.chemistry) == want
    assert g.conditional == (want == (1.0, 1.0))


@pytest.mark.parametrize("value", ["strong", [1, 2, 3], [1, float("nan")], True, None])
def test_guidance_scale_refuses_what_is_not_one_or_two_numbers(value):
    from molgen.diffusion.guidance import GuidanceScale
    from molgen.errors import MolgenInputError

    with pytest.raises(MolgenInputError, match="guidance_scale"):
        GuidanceScale.parse(value)


def test_allowed_elements_restrict_generated_types():
    task = _task()
    pos, feat = _pocket()
    out = task.generate(pos, feat, [10] * 4, steps=3, allowed_elements=["N", "O"],
                        generator=torch.Generator().manual_seed(0))
    assert {e for lig in out for e in lig.elements} <= {"N", "O"}


def test_fragment_needs_room_for_new_atoms():
    task = _task()
    pos, feat = _pocket()
    with pytest.raises(ValueError, match="more atoms than"):
        task.generate(pos, feat, [3], steps=2, fragment=FRAGMENT)


def test_many_ligands_per_pocket_equal_one_at_a_time():
    """The shared-pocket batched path gives each ligand the result it gets alone (fixed seeds,
    deterministic sampler): batching is an optimisation, not a change of the model."""
    task = _task(sampler=DDIMSampler())
    pos, feat = _pocket(n=60)
    sizes, seeds = [7, 12, 9, 5], [11, 12, 13, 14]
    together = task.generate(pos, feat, sizes, steps=5, seeds=seeds)
    alone = [task.generate(pos, feat, [n], steps=5, seeds=[sd])[0] for n, sd in zip(sizes, seeds)]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a.pos, b.pos, atol=1e-5)
        assert a.elements == b.elements


def test_pocket_encoded_once_equals_encoding_every_step():
    """The fast path (pocket message passing once per sample) equals recomputing it each step."""
    task = _task(sampler=DDIMSampler())
    pos, feat = _pocket(n=50)
    net = task.net
    x, h = torch.randn(8, 3), torch.randn(8, 9)
    batch = torch.zeros(8, dtype=torch.long)
    cached = net.encode_context(pos, feat, torch.zeros(50, dtype=torch.long))
    for t in (0.9, 0.5, 0.1):
        tt = torch.tensor([t])
        fresh = net.encode_context(pos, feat, torch.zeros(50, dtype=torch.long))
        for a, b in zip(net(x, h, tt, batch, cached), net(x, h, tt, batch, fresh)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        x = x + 0.1 * net(x, h, tt, batch, cached)[0]


def _x0_centroids(task, x, out, t, batch, n):
    t_node = torch.full((x.shape[0],), float(t), dtype=x.dtype)
    from molgen.diffusion.com import scatter_mean

    return scatter_mean(task.process.split(x, out, t_node)[0], batch, n).norm(dim=-1)


class _HalfX(torch.nn.Module):
    """An equivariant stand-in denoiser whose output is ``x / 2`` (its x0_hat lies far out)."""

    def forward(self, x, h, t, batch, context):
        return 0.5 * x, h


@pytest.mark.parametrize("prediction", ["eps", "velocity"])
def test_x0_centroid_bound_keeps_prediction_near_the_pocket(prediction):
    """Near t = 1 an eps-model's x0_hat can land far away; the bound pulls its centroid inside
    ``x0_com_radius``, leaves graphs already inside untouched, and commutes with rotations."""
    task = _task(process=VPProcess(CosineSchedule(), prediction=prediction)).double()
    g = torch.Generator().manual_seed(5)
    batch = torch.repeat_interleave(torch.arange(2), torch.tensor([5, 6]))
    x = torch.randn(11, 3, generator=g, dtype=torch.float64)
    x[:5] += 40.0  # graph 0 far from the origin, graph 1 near it
    h = torch.randn(11, 9, generator=g, dtype=torch.float64)
    t = torch.tensor(0.97, dtype=torch.float64)
    net = _HalfX()
    task.x0_com_radius = None
    free = task._predict(net, x, h, t, batch, 2, None, 1.0)[0]
    task.x0_com_radius = 8.0
    bounded = task._predict(net, x, h, t, batch, 2, None, 1.0)[0]
    before, after = _x0_centroids(task, x, free, t, batch, 2), _x0_centroids(task, x, bounded, t, batch, 2)
    assert float(before[0]) > 8.0 and float(after[0]) == pytest.approx(8.0)
    assert float(before[1]) < 8.0
    torch.testing.assert_close(bounded[5:], free[5:])
    rot = random_rotation(torch.Generator().manual_seed(6)).double()
    rotated = task._predict(net, x @ rot.T, h, t, batch, 2, None, 1.0)[0]
    torch.testing.assert_close(rotated, bounded @ rot.T, atol=1e-8, rtol=1e-6)

"""SO(3) maps and the frame flow: end points, geodesic speed, zero CoM, the Euler step's symmetry."""

from __future__ import annotations

import math

import pytest
import torch

from molgen.diffusion.frame_flow import BackboneFrames, FrameEulerSampler, FrameFlow
from molgen.diffusion.so3 import (exp_map, geodesic, geodesic_distance, hat, log_map, rotation_angle,
                                  uniform_rotations, vee)
from molgen.testing import random_rotation

D = torch.float64


def _rots(n=64, seed=0):
    return uniform_rotations(n, torch.Generator().manual_seed(seed), dtype=D)


def test_uniform_rotations_are_proper_and_spread():
    r = _rots(4000)
    eye = torch.eye(3, dtype=D)
    assert torch.allclose(r @ r.transpose(-1, -2), eye.expand_as(r), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(4000, dtype=D), atol=1e-12)
    # Haar measure: angle density (1 - cos)/pi, mean angle pi/2 + 2/pi; mean matrix ~ 0
    assert rotation_angle(r).mean().item() == pytest.approx(math.pi / 2 + 2 / math.pi, abs=0.03)
    assert r.mean(0).abs().max().item() < 0.05


@pytest.mark.parametrize("angle", [0.0, 1e-7, 1e-3, 0.5, 2.0, math.pi - 1e-4, math.pi - 1e-6])
def test_exp_log_round_trip(angle):
    axes = torch.randn(16, 3, generator=torch.Generator().manual_seed(1), dtype=D)
    v = axes / axes.norm(dim=-1, keepdim=True) * angle
    r = exp_map(v)
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3, dtype=D).expand_as(r), atol=1e-12)
    assert torch.allclose(log_map(r), v, atol=1e-7)
    assert torch.allclose(rotation_angle(r), torch.full((16,), angle, dtype=D), atol=1e-7)
    assert torch.allclose(vee(hat(v)), v)


def test_log_at_pi_gives_a_valid_axis():
    v = torch.tensor([[0.0, 0.0, math.pi], [1.0, 1.0, 0.0]], dtype=D)
    v[1] = v[1] / v[1].norm() * math.pi
    back = log_map(exp_map(v))
    assert torch.allclose(back.norm(dim=-1), torch.full((2,), math.pi, dtype=D))
    assert torch.allclose(exp_map(back), exp_map(v), atol=1e-10)


def test_geodesic_end_points_and_constant_speed():
    r0, r1 = _rots(32, 0), _rots(32, 1)
    assert torch.allclose(geodesic(r0, r1, 0.0), r0, atol=1e-12)
    assert torch.allclose(geodesic(r0, r1, 1.0), r1, atol=1e-9)
    full = geodesic_distance(r0, r1)
    for t in (0.1, 0.37, 0.8):
        rt = geodesic(r0, r1, t)
        assert torch.allclose(geodesic_distance(r0, rt), t * full, atol=1e-9)  # d(R0, Rt) = t d(R0, R1)
        assert torch.allclose(geodesic_distance(rt, r1), (1 - t) * full, atol=1e-9)
    # per-element times
    t = torch.linspace(0, 1, 32, dtype=D)
    assert torch.allclose(geodesic_distance(r0, geodesic(r0, r1, t)), t * full, atol=1e-9)


def test_geodesic_is_left_invariant():
    r0, r1, q = _rots(8, 0), _rots(8, 1), random_rotation(torch.Generator().manual_seed(3))
    assert torch.allclose(geodesic(q @ r0, q @ r1, 0.3), q @ geodesic(r0, r1, 0.3), atol=1e-10)


def _clean(lengths=(7, 5), seed=0) -> BackboneFrames:
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    trans = torch.randn(batch.shape[0], 3, generator=gen, dtype=D)
    from molgen.diffusion.com import remove_com
    return BackboneFrames(uniform_rotations(batch.shape[0], gen, dtype=D), remove_com(trans, batch), batch)


def test_frame_flow_interpolant_end_points_and_zero_com():
    flow, clean = FrameFlow(), _clean()
    prior = flow.prior(clean.batch, torch.Generator().manual_seed(5), D)
    at0 = flow.noise(clean, torch.zeros(2, dtype=D), prior=prior)
    at1 = flow.noise(clean, torch.ones(2, dtype=D), prior=prior)
    assert torch.allclose(at0.rotmats, clean.rotmats, atol=1e-10) and torch.allclose(at0.trans, clean.trans)
    assert torch.allclose(at1.rotmats, prior.rotmats, atol=1e-9) and torch.allclose(at1.trans, prior.trans)
    mid = flow.noise(clean, torch.tensor([0.3, 0.6], dtype=D), prior=prior)
    t = torch.tensor([0.3, 0.6], dtype=D)[clean.batch]
    assert torch.allclose(geodesic_distance(clean.rotmats, mid.rotmats),
                          t * geodesic_distance(clean.rotmats, prior.rotmats), atol=1e-9)
    for f in (prior, mid):
        from molgen.testing import assert_zero_com
        assert_zero_com(f.trans, f.batch, atol=1e-10)


def test_frame_flow_loss_is_zero_at_the_truth_and_weights_small_t():
    flow, clean = FrameFlow(), _clean()
    out = flow.loss(clean, clean, torch.tensor([0.5, 0.05], dtype=D))
    assert out["loss"].item() == pytest.approx(0.0, abs=1e-12)
    assert flow.loss_weight(torch.tensor([0.05, 0.5])).tolist() == pytest.approx([100.0, 4.0])


@pytest.mark.parametrize("schedule", ["linear", "exp"])
def test_euler_step_is_se3_equivariant_and_lands_on_the_estimate(schedule):
    sampler, x, pred = FrameEulerSampler(rot_schedule=schedule), _clean(seed=0), _clean(seed=1)
    q = random_rotation(torch.Generator().manual_seed(7))
    out = sampler.step(x, pred, 0.6, 0.55)
    moved = sampler.step(BackboneFrames(q @ x.rotmats, x.trans @ q.T, x.batch),
                         BackboneFrames(q @ pred.rotmats, pred.trans @ q.T, pred.batch), 0.6, 0.55)
    assert torch.allclose(moved.rotmats, q @ out.rotmats, atol=1e-10)
    assert torch.allclose(moved.trans, out.trans @ q.T, atol=1e-10)
    last = sampler.step(x, pred, 0.01, 0.0)
    assert torch.allclose(last.rotmats, pred.rotmats, atol=1e-9) and torch.allclose(last.trans, pred.trans)


def test_euler_rotation_schedules():
    lin, fast = FrameEulerSampler(), FrameEulerSampler(rot_schedule="exp", exp_rate=10.0)
    assert lin.rot_fraction(0.5, 0.4) == pytest.approx(0.2)
    assert fast.rot_fraction(0.5, 0.4) == pytest.approx(1.0)
    assert fast.rot_fraction(0.9, 0.89) == pytest.approx(0.1)
    assert lin.timesteps(4).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    with pytest.raises(ValueError, match="rot_schedule"):
        FrameEulerSampler(rot_schedule="cosine")

"""One contract for every sampler: API, end points, exactness on a Gaussian, equivariance."""

import pytest
import torch

from molgen.diffusion.processes import FlowMatchingProcess, VPProcess
from molgen.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler, HeunSampler
from molgen.diffusion.schedules import CosineSchedule
from molgen.testing import assert_equivariant

ALL = [DDPMSampler(), DDIMSampler(), DDIMSampler(eta=1.0), HeunSampler()]
P = VPProcess(CosineSchedule())
FM = FlowMatchingProcess()


def _exact_output(process, x, x0, t):
    """The network output an oracle knowing the single data point x0 would give."""
    tn = t.expand(x.shape[0])
    eps = process.eps_from_x0(x, x0, tn)
    return process.target(x0, eps, tn)


def _run(sampler, process, x, x0, steps, g):
    """The task's loop with an oracle network."""
    ts = sampler.timesteps(steps)
    for t, s in zip(ts[:-1], ts[1:]):
        out = _exact_output(process, x, x0, t)
        noise = torch.randn(x.shape, generator=g, dtype=x.dtype) if sampler.needs_noise else None
        x_new = sampler.step(process, x, out, t, s, noise)
        if sampler.order == 2 and s > 0:
            x_new = sampler.correct(process, x, out, _exact_output(process, x_new, x0, s), t, s, x_new)
        x = x_new
    return x


@pytest.mark.parametrize("sampler", ALL, ids=repr)
class TestSamplerContract:
    def test_timesteps(self, sampler):
        ts = sampler.timesteps(7)
        assert ts.shape == (8,) and ts[0] == 1.0 and ts[-1] == 0.0 and (ts[1:] < ts[:-1]).all()
        with pytest.raises(ValueError, match="steps"):
            sampler.timesteps(0)

    @pytest.mark.parametrize("process", [P, FM], ids=["vp_eps", "flow_matching"])
    def test_exact_prediction_recovers_data_point(self, sampler, process):
        """With the oracle output for a single data point, any sampler lands on that point."""
        g = torch.Generator().manual_seed(0)
        x0 = torch.randn(4, 3, generator=g, dtype=torch.float64)
        x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        torch.testing.assert_close(_run(sampler, process, x, x0, 50, g), x0, atol=5e-3, rtol=0)

    def test_step_is_equivariant(self, sampler):
        t, s = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.6, dtype=torch.float64)
        g = torch.Generator().manual_seed(1)
        inputs = {"x": torch.randn(6, 3, generator=g, dtype=torch.float64),
                  "eps": torch.randn(6, 3, generator=g, dtype=torch.float64),
                  "noise": torch.randn(6, 3, generator=g, dtype=torch.float64)}

        def fn(x, eps, noise):
            return sampler.step(P, x, eps, t, s, noise if sampler.needs_noise else None)

        assert_equivariant(fn, inputs, positions=(), vectors=["x", "eps", "noise"], outputs=("vector",),
                           reflect=True, translate=False, atol=1e-10)


def test_gaussian_data_is_sampled_with_right_variance():
    """Data ~ N(0, v): the optimal eps is known in closed form; DDPM must reproduce var v."""
    v = 0.25
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 1, generator=g, dtype=torch.float64)
    sampler = DDPMSampler()
    ts = sampler.timesteps(200)
    for t, s in zip(ts[:-1], ts[1:]):
        a, sg = P.alpha(t), P.sigma(t)
        eps = sg * x / (a**2 * v + sg**2)  # E[eps | x_t] for Gaussian data
        x = sampler.step(P, x, eps, t, s, torch.randn(x.shape, generator=g, dtype=torch.float64))
    assert abs(x.var().item() - v) < 0.02
    assert set(SAMPLERS) >= {"ddpm", "ddim", "ode"}


@pytest.mark.parametrize("sampler,steps,tol", [(DDIMSampler(), 200, 0.02), (HeunSampler(), 20, 0.02)],
                         ids=["euler", "heun"])
def test_flow_matching_ode_transports_gaussian_exactly(sampler, steps, tol):
    """Data ~ N(0, v) under the linear interpolant: the optimal velocity is known in closed form;
    the ODE must map N(0, 1) to N(0, v). Heun gets there with 10x fewer steps than Euler."""
    v = 0.25
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 1, generator=g, dtype=torch.float64)

    def velocity(x, t):
        a, s = FM.alpha(t), FM.sigma(t)
        da, ds = FM.d_alpha(t.reshape(1)), FM.d_sigma(t.reshape(1))
        var = a**2 * v + s**2
        x0 = a * v * x / var
        eps = s * x / var
        return da * x0 + ds * eps

    ts = sampler.timesteps(steps)
    for t, s in zip(ts[:-1], ts[1:]):
        out = velocity(x, t)
        x_new = sampler.step(FM, x, out, t, s, None)
        if sampler.order == 2 and s > 0:
            x_new = sampler.correct(FM, x, out, velocity(x_new, s), t, s, x_new)
        x = x_new
    assert abs(x.var().item() - v) < tol

"""One contract for every sampler: API, end points, exactness on a Gaussian, equivariance."""

import pytest
import torch

from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler
from molgen.diffusion.schedules import CosineSchedule
from molgen.testing import assert_equivariant

ALL = [DDPMSampler(), DDIMSampler(), DDIMSampler(eta=1.0)]
P = VPProcess(CosineSchedule())


@pytest.mark.parametrize("sampler", ALL, ids=repr)
class TestSamplerContract:
    def test_timesteps(self, sampler):
        ts = sampler.timesteps(7)
        assert ts.shape == (8,) and ts[0] == 1.0 and ts[-1] == 0.0 and (ts[1:] < ts[:-1]).all()
        with pytest.raises(ValueError, match="steps"):
            sampler.timesteps(0)

    def test_exact_eps_recovers_data_point(self, sampler):
        """With the true eps of a single data point, any sampler lands on that point."""
        g = torch.Generator().manual_seed(0)
        x0 = torch.randn(4, 3, generator=g, dtype=torch.float64)
        x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        ts = sampler.timesteps(50)
        for t, s in zip(ts[:-1], ts[1:]):
            eps = P.eps_from_x0(x, x0, t.expand(4))
            noise = torch.randn(4, 3, generator=g, dtype=torch.float64) if sampler.needs_noise else None
            x = sampler.step(P, x, eps, t, s, noise)
        torch.testing.assert_close(x, x0, atol=5e-3, rtol=0)

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
    assert set(SAMPLERS) >= {"ddpm", "ddim"}

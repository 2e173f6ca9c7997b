import pytest
import torch

from molgen.diffusion.processes import FlowMatchingProcess, VPProcess
from molgen.diffusion.schedules import CosineSchedule, LinearSchedule, PolynomialSchedule
from molgen.testing import assert_zero_com

SCHEDULES = [CosineSchedule(), PolynomialSchedule(power=2.0), PolynomialSchedule(power=1.5)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_schedule_monotone_with_right_end_points(schedule):
    t = torch.linspace(0, 1, 1001, dtype=torch.float64)
    a, s = schedule.alpha(t), schedule.sigma(t)
    torch.testing.assert_close(a**2 + s**2, torch.ones_like(t))
    assert (a[1:] <= a[:-1]).all() and (s[1:] >= s[:-1]).all()
    assert (schedule.log_snr(t)[1:] < schedule.log_snr(t)[:-1]).all()
    assert a[0] > 0.9999 and a[-1] < 0.01 and s[0] < 0.01 and s[-1] > 0.9999


@pytest.mark.parametrize("zero_com", [False, True])
def test_noising_marginals_have_right_mean_and_variance(zero_com):
    """x_t = alpha x0 + sigma eps: sample mean alpha*x0, variance sigma^2 (times (n-1)/n if zero-CoM)."""
    p = VPProcess(CosineSchedule(), zero_com=zero_com)
    g = torch.Generator().manual_seed(0)
    n_atoms, reps = 6, 20000
    x0 = torch.randn(n_atoms, 3, generator=g, dtype=torch.float64)
    if zero_com:
        x0 = x0 - x0.mean(0)
    t = torch.tensor(0.6, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(reps), n_atoms)
    eps = p.pos_noise(torch.zeros(reps * n_atoms, 3, dtype=torch.float64), batch, g)
    xt = p.add_noise(x0.repeat(reps, 1), eps, t.expand(reps * n_atoms)).view(reps, n_atoms, 3)
    mean, var = xt.mean(0), xt.var(0)
    expected_var = p.sigma(t) ** 2 * ((n_atoms - 1) / n_atoms if zero_com else 1.0)
    # standard error of the mean: sigma/sqrt(reps) ~ 0.0066; of the variance ~ var*sqrt(2/reps) ~ 0.008
    assert (mean - p.alpha(t) * x0).abs().max() < 0.035
    assert (var - expected_var).abs().max() < 0.05
    if zero_com:
        assert_zero_com(eps, batch, atol=1e-10)


def test_zero_com_noise_with_fixed_atoms_keeps_fixed_atoms_still():
    p = VPProcess(CosineSchedule(), zero_com=True)
    batch = torch.repeat_interleave(torch.arange(3), 5)
    fixed = torch.zeros(15, dtype=torch.bool)
    fixed[[0, 1, 7]] = True
    eps = p.pos_noise(torch.zeros(15, 3), batch, torch.Generator().manual_seed(0), fixed=fixed)
    assert (eps[fixed] == 0).all()
    assert_zero_com(eps[~fixed], batch[~fixed], atol=1e-6)


def test_eps_x0_round_trip():
    p = VPProcess(PolynomialSchedule())
    x0, eps = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    t = torch.rand(10, dtype=torch.float64) * 0.98 + 0.01
    xt = p.add_noise(x0, eps, t)
    torch.testing.assert_close(p.x0_from_eps(xt, eps, t), x0)
    torch.testing.assert_close(p.eps_from_x0(xt, x0, t), eps)


@pytest.mark.parametrize("process", [VPProcess(CosineSchedule()), FlowMatchingProcess()], ids=["vp", "fm"])
def test_split_inverts_target(process):
    """split(x_t, target(x0, eps)) recovers (x0, eps) for either parametrisation."""
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randn(50, 3, generator=g, dtype=torch.float64)
    t = torch.rand(50, generator=g, dtype=torch.float64) * 0.98 + 0.01
    xt = process.add_noise(x0, eps, t)
    x0_hat, eps_hat = process.split(xt, process.target(x0, eps, t), t)
    torch.testing.assert_close(x0_hat, x0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eps_hat, eps, atol=1e-5, rtol=1e-5)


def test_linear_schedule_end_points():
    s = LinearSchedule()
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(s.sigma(t), t)
    assert s.alpha(t)[0] == 1.0 and 0 < s.alpha(t)[-1] < 0.01


@pytest.mark.parametrize("process", [VPProcess(CosineSchedule()), VPProcess(CosineSchedule(), prediction="velocity"),
                                     FlowMatchingProcess()], ids=["eps", "velocity", "fm"])
def test_output_for_inverts_split(process):
    """output_for(x_t, x0) is the network output whose split gives back x0 at x_t."""
    g = torch.Generator().manual_seed(4)
    xt, x0 = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randn(30, 3, generator=g, dtype=torch.float64)
    t = torch.rand(30, generator=g, dtype=torch.float64) * 0.98 + 0.01
    x0_hat, _ = process.split(xt, process.output_for(xt, x0, t), t)
    torch.testing.assert_close(x0_hat, x0, atol=1e-6, rtol=1e-6)

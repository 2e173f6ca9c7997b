"""Samplers: how to go from time t to an earlier time s given the network's output.

A sampler owns no network and no state; the process turns the network output into
``(x0_hat, eps_hat)`` (:meth:`VPProcess.split`). The task loops::

    ts = sampler.timesteps(steps)                 # 1 -> 0, steps + 1 points
    for t, s in zip(ts[:-1], ts[1:]):
        out = net(x, t)
        x_next = sampler.step(process, x, out, t, s, noise)
        if sampler.order == 2 and s > 0:           # Heun: one more evaluation at (x_next, s)
            x_next = sampler.correct(process, x, out, net(x_next, s), t, s)
        x = x_next

``needs_noise`` tells the loop whether to draw fresh noise for ``step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from molgen.diffusion.processes import VPProcess

__all__ = ["Sampler", "DDPMSampler", "DDIMSampler", "HeunSampler", "SAMPLERS"]


def _node_t(t: Tensor, x: Tensor) -> Tensor:
    return t.to(x.dtype).expand(x.shape[0])


@dataclass(frozen=True)
class Sampler:
    """Uniform time grid from ``t_max`` to 0; the last move (to ``s = 0``) returns x0_hat."""

    t_max: float = 1.0

    needs_noise = True
    order = 1

    def timesteps(self, steps: int) -> Tensor:
        if steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        return torch.linspace(self.t_max, 0.0, steps + 1, dtype=torch.float64)

    def step(self, process: VPProcess, x_t: Tensor, out: Tensor, t: Tensor, s: Tensor,
             noise: Tensor | None) -> Tensor:
        """One move from time ``t`` to ``s < t`` given the network output ``out`` at ``x_t``."""
        x0, eps = process.split(x_t, out, _node_t(t, x_t))
        if float(s) <= 0.0:
            return x0
        return self._step(process, x_t, x0, eps, t, s, noise)

    def _step(self, process: VPProcess, x_t: Tensor, x0: Tensor, eps: Tensor, t: Tensor, s: Tensor,
              noise: Tensor | None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class DDPMSampler(Sampler):
    """Ancestral sampling from the posterior q(x_s | x_t, x_0 = x0_hat)."""

    def _step(self, process, x_t, x0, eps, t, s, noise):
        a_t, s_t = process.alpha(t), process.sigma(t)
        a_s, s_s = process.alpha(s), process.sigma(s)
        a_ts = a_t / a_s
        var_ts = (s_t**2 - a_ts**2 * s_s**2).clamp(min=0)
        # posterior mean: (a_ts s_s^2 x_t + a_s var_ts x0) / s_t^2
        mean = (a_ts * s_s**2 * x_t + a_s * var_ts * x0) / s_t**2
        std = var_ts.sqrt() * s_s / s_t
        return mean + std * noise if noise is not None else mean


@dataclass(frozen=True)
class DDIMSampler(Sampler):
    """DDIM: ``x_s = alpha_s x0_hat + sigma_s eps_hat`` (eta = 0: deterministic, the first-order
    solver of the probability-flow ODE; Euler for flow matching). ``eta`` > 0 adds noise."""

    eta: float = 0.0

    @property
    def needs_noise(self) -> bool:  # type: ignore[override]
        return self.eta > 0

    def _step(self, process, x_t, x0, eps, t, s, noise):
        a_t, s_t = process.alpha(t), process.sigma(t)
        a_s, s_s = process.alpha(s), process.sigma(s)
        if self.eta > 0 and noise is not None:
            var = (self.eta**2 * (s_s**2 / s_t**2) * (1 - a_t**2 / a_s**2)).clamp(min=0)
            return a_s * x0 + (s_s**2 - var).clamp(min=0).sqrt() * eps + var.sqrt() * noise
        return a_s * x0 + s_s * eps


@dataclass(frozen=True)
class HeunSampler(Sampler):
    """Heun's second-order method on the deterministic flow ``dx/dt = alpha' x0_hat + sigma' eps_hat``
    (two network evaluations per step, Euler on the last one)."""

    needs_noise = False
    order = 2

    def _step(self, process, x_t, x0, eps, t, s, noise):
        return x_t + (s - t).to(x_t.dtype) * process.velocity(x0, eps, _node_t(t, x_t))

    def correct(self, process: VPProcess, x_t: Tensor, out_t: Tensor, out_s: Tensor, t: Tensor,
                s: Tensor, x_euler: Tensor) -> Tensor:
        """Average the slopes at ``(x_t, t)`` and at the Euler point ``(x_euler, s)``."""
        v_t = process.velocity(*process.split(x_t, out_t, _node_t(t, x_t)), _node_t(t, x_t))
        v_s = process.velocity(*process.split(x_euler, out_s, _node_t(s, x_t)), _node_t(s, x_t))
        return x_t + (s - t).to(x_t.dtype) * 0.5 * (v_t + v_s)


SAMPLERS = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "ode": HeunSampler}

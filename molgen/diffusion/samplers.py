"""Samplers: how to go from time t to an earlier time s given the predicted noise.

A sampler owns no network and no state. The task loops::

    ts = sampler.timesteps(steps)                 # 1 -> 0, steps + 1 points
    for t, s in zip(ts[:-1], ts[1:]):
        eps = net(...)
        x = sampler.step(process, x, eps, t, s, noise)

``needs_noise`` tells the loop whether to draw fresh noise for ``step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from molgen.diffusion.processes import VPProcess

__all__ = ["Sampler", "DDPMSampler", "DDIMSampler", "SAMPLERS"]


@dataclass(frozen=True)
class Sampler:
    """Uniform time grid from ``t_max`` to 0."""

    t_max: float = 1.0

    needs_noise = True

    def timesteps(self, steps: int) -> Tensor:
        if steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        return torch.linspace(self.t_max, 0.0, steps + 1, dtype=torch.float64)

    def step(self, process: VPProcess, x_t: Tensor, eps: Tensor, t: Tensor, s: Tensor,
             noise: Tensor | None) -> Tensor:
        """One move from time ``t`` to ``s < t``; the last move (``s = 0``) returns x0_hat."""
        if float(s) <= 0.0:
            return process.x0_from_eps(x_t, eps, t.expand(x_t.shape[0]))
        return self._step(process, x_t, eps, t, s, noise)

    def _step(self, process: VPProcess, x_t: Tensor, eps: Tensor, t: Tensor, s: Tensor,
              noise: Tensor | None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class DDPMSampler(Sampler):
    """Ancestral sampling from the true posterior q(x_s | x_t, x_0 = x0_hat(eps))."""

    needs_noise = True

    def _step(self, process, x_t, eps, t, s, noise):
        a_t, s_t = process.alpha(t), process.sigma(t)
        a_s, s_s = process.alpha(s), process.sigma(s)
        a_ts = a_t / a_s
        var_ts = s_t**2 - a_ts**2 * s_s**2
        mean = x_t / a_ts - var_ts / (a_ts * s_t) * eps
        std = var_ts.clamp(min=0).sqrt() * s_s / s_t
        return mean + std * noise if noise is not None else mean


@dataclass(frozen=True)
class DDIMSampler(Sampler):
    """Deterministic DDIM (eta = 0): x_s = alpha_s x0_hat + sigma_s eps; ``eta`` adds noise."""

    eta: float = 0.0

    @property
    def needs_noise(self) -> bool:  # type: ignore[override]
        return self.eta > 0

    def _step(self, process, x_t, eps, t, s, noise):
        a_t, s_t = process.alpha(t), process.sigma(t)
        a_s, s_s = process.alpha(s), process.sigma(s)
        x0 = (x_t - s_t * eps) / a_t
        if self.eta > 0 and noise is not None:
            var = self.eta**2 * (s_s**2 / s_t**2) * (1 - a_t**2 / a_s**2)
            var = var.clamp(min=0)
            dir_coef = (s_s**2 - var).clamp(min=0).sqrt()
            return a_s * x0 + dir_coef * eps + var.sqrt() * noise
        return a_s * x0 + s_s * eps


SAMPLERS = {"ddpm": DDPMSampler, "ddim": DDIMSampler}

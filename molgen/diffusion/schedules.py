"""Stateless variance-preserving noise schedules: alpha(t), sigma(t) for continuous t in [0, 1].

The variance-preserving ones satisfy ``alpha(t)^2 + sigma(t)^2 = 1``, ``alpha`` decreasing from ~1 at
``t = 0`` to ~0 at ``t = 1``. ``precision`` keeps both strictly inside (0, 1) so that the SNR
is finite at both ends (as EDM's clipped schedules do). :class:`LinearSchedule` is flow matching's
straight path, alpha = 1 - t, sigma = t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Schedule", "CosineSchedule", "PolynomialSchedule", "LinearSchedule"]


@dataclass(frozen=True)
class Schedule:
    """Base: subclasses define ``alpha2_raw(t)`` on [0, 1] (decreasing, 1 -> 0)."""

    precision: float = 1e-5

    def alpha2_raw(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def alpha2(self, t: Tensor) -> Tensor:
        return (1.0 - 2.0 * self.precision) * self.alpha2_raw(t.clamp(0.0, 1.0)) + self.precision

    def alpha(self, t: Tensor) -> Tensor:
        return self.alpha2(t).sqrt()

    def sigma(self, t: Tensor) -> Tensor:
        return (1.0 - self.alpha2(t)).sqrt()

    def log_snr(self, t: Tensor) -> Tensor:
        a2 = self.alpha2(t)
        return torch.log(a2) - torch.log1p(-a2)


@dataclass(frozen=True)
class CosineSchedule(Schedule):
    """Nichol & Dhariwal's cosine schedule, ``alpha^2 = cos^2(pi/2 (t+s)/(1+s)) / cos^2(...)``."""

    s: float = 0.008

    def alpha2_raw(self, t: Tensor) -> Tensor:
        f = torch.cos(0.5 * math.pi * (t + self.s) / (1.0 + self.s)) ** 2
        f0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s)) ** 2
        return (f / f0).clamp(0.0, 1.0)


@dataclass(frozen=True)
class PolynomialSchedule(Schedule):
    """EDM's polynomial schedule, ``alpha^2 = (1 - t^power)^2`` (``power=2``: EDM's default)."""

    power: float = 2.0

    def alpha2_raw(self, t: Tensor) -> Tensor:
        return (1.0 - t**self.power) ** 2


@dataclass(frozen=True)
class LinearSchedule(Schedule):
    """Flow matching's straight path: ``alpha = 1 - (1 - precision) t``, ``sigma = t``.

    Not variance preserving; ``precision`` keeps alpha > 0 at t = 1 so every sampler is defined.
    """

    precision: float = 1e-3

    def alpha(self, t: Tensor) -> Tensor:
        return 1.0 - (1.0 - self.precision) * t.clamp(0.0, 1.0)

    def sigma(self, t: Tensor) -> Tensor:
        return t.clamp(0.0, 1.0)

    def alpha2(self, t: Tensor) -> Tensor:
        return self.alpha(t) ** 2

    def log_snr(self, t: Tensor) -> Tensor:
        return 2 * (torch.log(self.alpha(t)) - torch.log(self.sigma(t)))

"""Invariant embeddings shared by the networks: time, distances, smooth cutoffs."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["TimeEmbedding", "GaussianRBF", "cosine_cutoff"]


class TimeEmbedding(nn.Module):
    """Sinusoidal features of a diffusion time ``t`` in [0, 1] (plus ``t`` itself)."""

    def __init__(self, dim: int = 16, max_period: float = 1000.0) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"TimeEmbedding dim must be an even number >= 2, got {dim}")
        half = (dim - 2) // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half) / max(half, 1))
        self.register_buffer("freqs", freqs * max_period, persistent=False)
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        angles = t[:, None] * self.freqs[None, :]
        return torch.cat([t[:, None], 1.0 - t[:, None], angles.sin(), angles.cos()], dim=-1)


class GaussianRBF(nn.Module):
    """Gaussian radial basis of a distance on ``[0, r_max]`` Angstrom."""

    def __init__(self, n: int = 16, r_max: float = 10.0) -> None:
        super().__init__()
        self.register_buffer("centers", torch.linspace(0.0, r_max, n), persistent=False)
        self.gamma = 1.0 / (2.0 * (r_max / max(n - 1, 1)) ** 2)
        self.n = n

    def forward(self, d: Tensor) -> Tensor:
        return torch.exp(-self.gamma * (d[:, None] - self.centers[None, :]).square())


def cosine_cutoff(d: Tensor, r: float) -> Tensor:
    """Smooth envelope: 1 at d=0, 0 (with zero slope) at and beyond d=r."""
    if math.isinf(r):
        return torch.ones_like(d)
    return 0.5 * (torch.cos(torch.clamp(d / r, max=1.0) * math.pi) + 1.0)

"""Centre-of-mass helpers for zero-CoM Gaussian noise (EDM's translation-invariant subspace)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["scatter_mean", "remove_com", "graph_counts"]


def graph_counts(batch: Tensor, n_graphs: int | None = None) -> Tensor:
    n = int(batch.max()) + 1 if n_graphs is None else n_graphs
    return torch.bincount(batch, minlength=n)


def scatter_mean(x: Tensor, batch: Tensor, n_graphs: int | None = None) -> Tensor:
    """Per-graph mean of node rows ``x`` [N, D] -> [B, D]."""
    counts = graph_counts(batch, n_graphs)
    sums = x.new_zeros((counts.shape[0],) + x.shape[1:]).index_add_(0, batch, x)
    return sums / counts.clamp(min=1).to(x.dtype)[:, None]


def remove_com(x: Tensor, batch: Tensor, mask: Tensor | None = None) -> Tensor:
    """Subtract each graph's centroid (over ``mask`` rows if given) from all of its rows."""
    if mask is None:
        return x - scatter_mean(x, batch)[batch]
    n = int(batch.max()) + 1
    sel = mask.to(x.dtype)[:, None]
    sums = x.new_zeros(n, x.shape[1]).index_add_(0, batch, x * sel)
    counts = x.new_zeros(n).index_add_(0, batch, sel[:, 0]).clamp(min=1)
    return x - (sums / counts[:, None])[batch]

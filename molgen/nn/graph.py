"""Neighbour search in plain torch (no pyg-lib / torch-cluster), block-wise over sorted batches.

Edges are returned as ``edge_index = [src, dst]`` (messages flow from ``src`` to ``dst``), the
torch_geometric convention.  Both functions are exact (no neighbour cap) and differentiable
nowhere: they return integer indices only.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["radius_graph", "radius_bipartite", "batch_ptr"]


def batch_ptr(batch: Tensor, n_graphs: int | None = None) -> Tensor:
    """Offsets ``ptr`` with ``ptr[g]:ptr[g+1]`` the nodes of graph ``g`` (``batch`` sorted)."""
    if n_graphs is None:
        n_graphs = int(batch.max()) + 1 if batch.numel() else 0
    counts = torch.bincount(batch, minlength=n_graphs)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _pairs_within(
    x: Tensor, y: Tensor, batch_x: Tensor, batch_y: Tensor, r: float, chunk: int
) -> tuple[Tensor, Tensor]:
    """All (i in x, j in y) with equal batch and |x_i - y_j| < r; ``batch_y`` must be sorted."""
    ptr_y = batch_ptr(batch_y, int(max(batch_x.max(), batch_y.max())) + 1)
    rows, cols = [], []
    r2 = r * r
    for start in range(0, x.shape[0], chunk):
        bx = batch_x[start : start + chunk]
        lo, hi = int(ptr_y[bx.min()]), int(ptr_y[bx.max() + 1])
        if hi <= lo:
            continue
        d2 = torch.cdist(x[start : start + chunk], y[lo:hi]).square_()
        ok = (bx[:, None] == batch_y[None, lo:hi]) & (d2 < r2)
        i, j = ok.nonzero(as_tuple=True)
        rows.append(i + start)
        cols.append(j + lo)
    if not rows:
        empty = torch.zeros(0, dtype=torch.long, device=x.device)
        return empty, empty
    return torch.cat(rows), torch.cat(cols)


@torch.no_grad()
def radius_graph(
    pos: Tensor, r: float, batch: Tensor | None = None, loop: bool = False, chunk: int = 4096
) -> Tensor:
    """Directed edges between nodes of the same graph closer than ``r`` (Angstrom).

    ``r=float('inf')`` gives the complete graph of each molecule. ``batch`` must be sorted
    (as torch_geometric batches are).
    """
    if batch is None:
        batch = pos.new_zeros(pos.shape[0], dtype=torch.long)
    if pos.shape[0] == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=pos.device)
    dst, src = _pairs_within(pos, pos, batch, batch, r, chunk)
    if not loop:
        keep = dst != src
        dst, src = dst[keep], src[keep]
    return torch.stack([src, dst])


@torch.no_grad()
def radius_bipartite(
    x: Tensor, y: Tensor, r: float, batch_x: Tensor, batch_y: Tensor, chunk: int = 4096
) -> Tensor:
    """Edges from ``y`` nodes (context, e.g. pocket) to ``x`` nodes (e.g. ligand) within ``r``.

    Returns ``[src_in_y, dst_in_x]``. ``batch_y`` must be sorted; ``batch_x`` need not be (many
    ligands may point at one shared pocket).
    """
    if x.shape[0] == 0 or y.shape[0] == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=x.device)
    dst, src = _pairs_within(x, y, batch_x, batch_y, r, chunk)
    return torch.stack([src, dst])

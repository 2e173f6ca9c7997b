"""E(n)-equivariant graph denoiser (Satorras et al. 2021; EDM's variant) with a fixed-context path.

Ligand (or molecule) atoms exchange messages over a radius graph; when a context (the pocket) is
given, each ligand atom also receives messages from context atoms within ``context_cutoff``.
The context's own message passing runs once in :meth:`EGNN.encode_context`; the per-layer
projections of its embedding are cached there too, so a denoising step costs only
ligand-ligand and context->ligand edges.

Each edge message is ``phi(W_dst h_i + W_src h_j + W_r rbf(d_ij))``: the two node terms are
computed per node (and per context atom once per sample), not per edge.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molgen.nn.base import Context
from molgen.nn.embeddings import GaussianRBF, TimeEmbedding, cosine_cutoff
from molgen.nn.graph import radius_bipartite, radius_graph

__all__ = ["EGNN"]


def _scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    out = src.new_zeros((n,) + src.shape[1:])
    return out.index_add_(0, index, src)


class _Message(nn.Module):
    """``phi(W_dst h_i + W_src h_j + W_r rbf(d_ij))``; the node terms are projected per node."""

    def __init__(self, hidden: int, n_rbf: int, r_max: float) -> None:
        super().__init__()
        self.rbf = GaussianRBF(n_rbf, r_max)
        self.dst = nn.Linear(hidden, hidden)
        self.src = nn.Linear(hidden, hidden, bias=False)
        self.dist = nn.Linear(n_rbf, hidden, bias=False)
        self.msg = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())

    def forward(self, h_dst: Tensor, src_proj: Tensor, d: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        return self.msg(self.dst(h_dst)[dst] + src_proj[src] + self.dist(self.rbf(d)))


class _EdgeBlock(_Message):
    """Messages and coordinate updates along one kind of edge (ligand-ligand or context->ligand)."""

    def __init__(self, hidden: int, n_rbf: int, r_max: float, cutoff: float) -> None:
        super().__init__(hidden, n_rbf, r_max)
        self.cutoff = cutoff
        self.gate = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        self.coord = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def update(
        self, h_dst: Tensor, src_proj: Tensor, pos_dst: Tensor, pos_src: Tensor, edges: Tensor
    ) -> tuple[Tensor, Tensor]:
        src, dst = edges
        diff = pos_dst[dst] - pos_src[src]
        d = diff.norm(dim=-1)
        m = self(h_dst, src_proj, d, src, dst)
        m = m * (self.gate(m) * cosine_cutoff(d, self.cutoff)[:, None])
        dx = diff / (d[:, None] + 1.0) * torch.tanh(self.coord(m))
        n = h_dst.shape[0]
        return _scatter_sum(m, dst, n), _scatter_sum(dx, dst, n)


class _Layer(nn.Module):
    def __init__(self, hidden: int, n_rbf: int, cutoff: float, context_cutoff: float, norm: float):
        super().__init__()
        self.ll = _EdgeBlock(hidden, n_rbf, min(cutoff, 15.0), cutoff)
        self.cl = _EdgeBlock(hidden, n_rbf, context_cutoff, context_cutoff)
        self.node = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.ln = nn.LayerNorm(hidden)
        self.norm = norm

    def forward(self, h, pos, ll_edges, ctx_pos=None, ctx_proj=None, cl_edges=None):
        m_ll, dx_ll = self.ll.update(h, self.ll.src(h), pos, pos, ll_edges)
        if cl_edges is not None:
            m_cl, dx_cl = self.cl.update(h, ctx_proj, pos, ctx_pos, cl_edges)
        else:
            m_cl, dx_cl = torch.zeros_like(m_ll), torch.zeros_like(dx_ll)
        h = self.ln(h + self.node(torch.cat([h, m_ll / self.norm, m_cl / self.norm], dim=-1)))
        return h, pos + (dx_ll + dx_cl) / self.norm


class _ContextEncoder(nn.Module):
    """Invariant message passing among context atoms (run once per sample)."""

    def __init__(self, in_dim: int, hidden: int, n_layers: int, cutoff: float, n_rbf: int, norm: float):
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.cutoff, self.norm = cutoff, norm
        self.msgs = nn.ModuleList(_Message(hidden, n_rbf, cutoff) for _ in range(n_layers))
        self.nodes = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(n_layers)
        )
        self.lns = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_layers))

    def forward(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Tensor:
        h = self.embed(feat)
        if not self.msgs:
            return h
        src, dst = radius_graph(pos, self.cutoff, batch)
        d = (pos[dst] - pos[src]).norm(dim=-1)
        env = cosine_cutoff(d, self.cutoff)[:, None]
        for msg, node, ln in zip(self.msgs, self.nodes, self.lns):
            m = msg(h, msg.src(h), d, src, dst) * env
            h = ln(h + node(torch.cat([h, _scatter_sum(m, dst, h.shape[0]) / self.norm], dim=-1)))
        return h


class EGNN(nn.Module):
    """EGNN denoiser implementing the :mod:`molgen.nn.base` contract.

    Args:
        n_types: atom-type channels in (noisy one-hot) and out.
        hidden: width of the invariant features.
        n_layers: equivariant layers on the denoised atoms.
        cutoff: ligand-ligand edge radius in Angstrom (``inf``: complete graph per molecule).
        context_dim: feature size of context atoms (0: unconditional, no context).
        context_cutoff: context->ligand edge radius (Angstrom).
        context_layers: message-passing layers among context atoms (run once per sample).
        context_encoder_cutoff: edge radius among context atoms (Angstrom).
        time_dim: size of the sinusoidal time embedding.
        n_rbf: radial basis size.
        norm: divisor of summed messages and coordinate updates.
    """

    def __init__(
        self,
        n_types: int,
        hidden: int = 128,
        n_layers: int = 6,
        cutoff: float = float("inf"),
        context_dim: int = 0,
        context_cutoff: float = 8.0,
        context_layers: int = 2,
        context_encoder_cutoff: float = 6.0,
        time_dim: int = 16,
        n_rbf: int = 16,
        norm: float = 10.0,
    ) -> None:
        super().__init__()
        self.n_types, self.hidden, self.cutoff = n_types, hidden, float(cutoff)
        self.context_cutoff = float(context_cutoff)
        self.time = TimeEmbedding(time_dim)
        self.embed = nn.Linear(n_types + time_dim, hidden)
        self.layers = nn.ModuleList(
            _Layer(hidden, n_rbf, self.cutoff, self.context_cutoff, norm) for _ in range(n_layers)
        )
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, n_types))
        self.encoder = (
            _ContextEncoder(context_dim, hidden, context_layers, context_encoder_cutoff, n_rbf, norm)
            if context_dim > 0 else None
        )

    def encode_context(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Context:
        """Encode fixed context atoms once; the result is reused by every denoising step."""
        if self.encoder is None:
            raise ValueError("this EGNN was built with context_dim=0 and takes no context")
        emb = self.encoder(pos, feat, batch)
        return Context(pos, batch, emb, [layer.cl.src(emb) for layer in self.layers])

    def forward(
        self, pos: Tensor, h: Tensor, t: Tensor, batch: Tensor, context: Context | None = None
    ) -> tuple[Tensor, Tensor]:
        x = self.embed(torch.cat([h, self.time(t)[batch]], dim=-1))
        ll_edges = radius_graph(pos, self.cutoff, batch)
        cl_edges = None
        if context is not None:
            cl_edges = radius_bipartite(
                pos, context.pos, self.context_cutoff, context.context_index(batch), context.batch
            )
        x0 = pos
        for i, layer in enumerate(self.layers):
            proj = context.per_layer[i] if context is not None else None
            x, pos = layer(x, pos, ll_edges, context.pos if context is not None else None, proj, cl_edges)
        return pos - x0, self.out(x)

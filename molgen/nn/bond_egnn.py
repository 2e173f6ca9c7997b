"""E(3)-equivariant denoiser over atoms *and* bonds: an EGNN with a feature per atom pair.

Every pair of atoms of a molecule (complete graph) carries an invariant edge feature ``e_ij``
initialised from the noisy bond type; each layer passes messages
``m_ij = phi(W_dst h_i + W_src h_j + W_e e_ij + W_r rbf(d_ij))`` (the node terms projected per
node, as in :mod:`molgen.nn.egnn`), moves coordinates along ``x_i - x_j`` (E(3)-equivariant, reflections
included), updates atoms from the summed messages and then every pair from ``h_i + h_j`` (symmetric,
so a pair's feature does not depend on its direction), its own feature and the new distance.

Outputs (:class:`~molgen.diffusion.molecule_flow.MoleculePrediction`): the clean coordinates
(zero-CoM), logits of atom types, formal charges and bond types per pair.

Self-conditioning (``self_condition=True``): the previous clean estimate enters as extra inputs —
its atom-type, charge and bond probabilities and the radial features of its pair distances.

Context (``context_dim > 0``, a pocket): as in :class:`~molgen.nn.egnn.EGNN`, the context atoms'
own message passing runs once in :meth:`BondEGNN.encode_context` (with the per-layer projections of
their embedding), and each layer adds messages and coordinate moves from context atoms within
``context_cutoff`` of a ligand atom; a denoising step never recomputes the pocket.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.molecule_flow import MoleculePrediction
from molgen.nn.base import Context
from molgen.nn.egnn import _ContextEncoder, _EdgeBlock
from molgen.nn.embeddings import GaussianRBF, TimeEmbedding
from molgen.nn.graph import radius_bipartite

__all__ = ["BondEGNN", "MoleculeInputs"]


def _scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    return src.new_zeros((n,) + src.shape[1:]).index_add_(0, index, src)


class MoleculeInputs(nn.Module):
    """Invariant inputs of a noisy molecule state: per atom the one-hot type and charge and the time
    embedding, per pair the one-hot bond type; with ``self_condition`` also the previous clean
    estimate's type, charge and bond probabilities and the radial features of its pair distances
    (zeros when there is none yet). ``node_dim`` and ``edge_dim`` are the output widths."""

    def __init__(self, n_types: int, n_charges: int, n_bond_types: int, time_dim: int, n_rbf: int,
                 r_max: float, self_condition: bool) -> None:
        super().__init__()
        self.n_types, self.n_charges, self.n_bond_types = n_types, n_charges, n_bond_types
        self.self_condition = bool(self_condition)
        self.time = TimeEmbedding(time_dim)
        self.rbf = GaussianRBF(n_rbf, r_max)
        self.node_dim = (n_types + n_charges) * (2 if self.self_condition else 1) + time_dim
        self.edge_dim = n_bond_types + ((n_bond_types + n_rbf) if self.self_condition else 0)

    def forward(self, pos: Tensor, atom_types: Tensor, charges: Tensor, bond_types: Tensor, pairs: Tensor,
                t: Tensor, batch: Tensor, cond: MoleculePrediction | None = None) -> tuple[Tensor, Tensor]:
        """``(node [N, node_dim], edge [P, edge_dim])``."""
        f = nn.functional
        dt = pos.dtype
        node = [f.one_hot(atom_types, self.n_types).to(dt), f.one_hot(charges, self.n_charges).to(dt),
                self.time(t.to(dt))[batch]]
        edge = [f.one_hot(bond_types, self.n_bond_types).to(dt)]
        if self.self_condition:
            if cond is None:
                node.append(pos.new_zeros(pos.shape[0], self.n_types + self.n_charges))
                edge.append(pos.new_zeros(pairs.shape[1], self.n_bond_types + self.rbf.n))
            else:
                node += [cond.atom_logits.softmax(-1), cond.charge_logits.softmax(-1)]
                d_sc = (cond.x0[pairs[0]] - cond.x0[pairs[1]]).norm(dim=-1)
                edge += [cond.bond_logits.softmax(-1), self.rbf(d_sc)]
        return torch.cat(node, dim=-1), torch.cat(edge, dim=-1)


class _BondLayer(nn.Module):
    def __init__(self, hidden: int, edge_dim: int, n_rbf: int, r_max: float, norm: float, coord_range: float,
                 context_cutoff: float | None = None):
        super().__init__()
        self.cl = None if context_cutoff is None else _EdgeBlock(hidden, n_rbf, context_cutoff, context_cutoff)
        self.rbf = GaussianRBF(n_rbf, r_max)
        self.dst = nn.Linear(hidden, hidden)
        self.src = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(edge_dim, hidden, bias=False)
        self.dist = nn.Linear(n_rbf, hidden, bias=False)
        self.msg = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.coord = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        self.node = nn.Sequential(nn.Linear((2 if context_cutoff is None else 3) * hidden, hidden), nn.SiLU(),
                                  nn.Linear(hidden, hidden))
        self.ln = nn.LayerNorm(hidden)
        self.pair = nn.Sequential(nn.Linear(hidden + edge_dim + n_rbf, hidden), nn.SiLU(), nn.Linear(hidden, edge_dim))
        self.ln_e = nn.LayerNorm(edge_dim)
        self.norm, self.coord_range = norm, coord_range

    def forward(self, h: Tensor, e: Tensor, pos: Tensor, pairs: Tensor,
                context: tuple[Tensor, Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``context``: (context positions, this layer's projection of their embedding, edges
        context -> atom) when the network has a context path."""
        n = h.shape[0]
        src = torch.cat([pairs[0], pairs[1]])
        dst = torch.cat([pairs[1], pairs[0]])
        diff = pos[dst] - pos[src]
        d = diff.norm(dim=-1)
        rbf = self.rbf(d)
        e_dir = self.edge(e).repeat(2, 1)
        m = self.msg(self.dst(h)[dst] + self.src(h)[src] + e_dir + self.dist(rbf))
        dx = _scatter_sum(diff / (d[:, None] + 1.0) * torch.tanh(self.coord(m)) * self.coord_range, dst, n)
        agg = [h, _scatter_sum(m, dst, n) / self.norm]
        if self.cl is not None:
            if context is None:
                agg.append(torch.zeros_like(h))
            else:
                c_pos, c_proj, c_edges = context
                m_cl, dx_cl = self.cl.update(h, c_proj, pos, c_pos, c_edges)
                agg.append(m_cl / self.norm)
                dx = dx + dx_cl
        pos = pos + dx / self.norm
        h = self.ln(h + self.node(torch.cat(agg, dim=-1)))
        d_new = (pos[pairs[0]] - pos[pairs[1]]).norm(dim=-1)
        hs = h[pairs[0]] + h[pairs[1]]
        e = self.ln_e(e + self.pair(torch.cat([hs, e, self.rbf(d_new)], dim=-1)))
        return h, e, pos


class BondEGNN(nn.Module):
    """Bond-aware EGNN denoiser.

    Args:
        n_types: atom types (in and out); n_charges, n_bond_types: charge and bond categories.
        hidden, edge_dim: widths of atom and pair features; n_layers: message-passing layers.
        time_dim, n_rbf, r_max: time embedding size, radial basis size and its range (Angstrom).
        norm: divisor of summed messages and coordinate updates; coord_range: largest coordinate
            move per edge and layer before that division (Angstrom).
        self_condition: take the previous clean estimate as input.
        context_dim: feature size of context (pocket) atoms, 0: unconditional.
        context_cutoff: context -> atom edge radius; context_layers, context_encoder_cutoff: message
            passing among context atoms, run once per sample (see :class:`~molgen.nn.egnn.EGNN`).
    """

    def __init__(self, n_types: int, n_charges: int = 3, n_bond_types: int = 5, hidden: int = 128,
                 edge_dim: int = 32, n_layers: int = 6, time_dim: int = 16, n_rbf: int = 16,
                 r_max: float = 10.0, norm: float = 10.0, coord_range: float = 10.0,
                 self_condition: bool = False, context_dim: int = 0, context_cutoff: float = 8.0,
                 context_layers: int = 2, context_encoder_cutoff: float = 6.0) -> None:
        super().__init__()
        self.context_cutoff = float(context_cutoff)
        self.encoder = (_ContextEncoder(context_dim, hidden, context_layers, context_encoder_cutoff, n_rbf, norm)
                        if context_dim > 0 else None)
        self.n_types, self.n_charges, self.n_bond_types = n_types, n_charges, n_bond_types
        self.self_condition = bool(self_condition)
        self.inputs = MoleculeInputs(n_types, n_charges, n_bond_types, time_dim, n_rbf, r_max,
                                     self.self_condition)
        self.embed = nn.Linear(self.inputs.node_dim, hidden)
        self.embed_e = nn.Linear(self.inputs.edge_dim, edge_dim)
        self.layers = nn.ModuleList(
            _BondLayer(hidden, edge_dim, n_rbf, r_max, norm, coord_range,
                       self.context_cutoff if context_dim > 0 else None) for _ in range(n_layers))
        self.out_types = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, n_types))
        self.out_charges = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, n_charges))
        self.out_rbf = GaussianRBF(n_rbf, r_max)
        self.out_bonds = nn.Sequential(nn.Linear(hidden + edge_dim + n_rbf, hidden), nn.SiLU(),
                                       nn.Linear(hidden, n_bond_types))

    def encode_context(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Context:
        """Encode fixed context atoms once; the result is reused by every denoising step."""
        if self.encoder is None:
            raise ValueError("this BondEGNN was built with context_dim=0 and takes no context")
        emb = self.encoder(pos, feat, batch)
        return Context(pos, batch, emb, [layer.cl.src(emb) for layer in self.layers])

    def forward(self, pos: Tensor, atom_types: Tensor, charges: Tensor, bond_types: Tensor, pairs: Tensor,
                t: Tensor, batch: Tensor, cond: MoleculePrediction | None = None,
                context: Context | None = None) -> MoleculePrediction:
        """Clean estimate of a noisy state (categories as indices, ``t`` [B] per graph). With a
        ``context``, coordinates are in its frame and the output is not re-centred."""
        node, edge = self.inputs(pos, atom_types, charges, bond_types, pairs, t, batch, cond)
        h, e = self.embed(node), self.embed_e(edge)
        edges = None if context is None else radius_bipartite(
            pos, context.pos, self.context_cutoff, context.context_index(batch), context.batch)
        x = pos
        for i, layer in enumerate(self.layers):
            ctx = None if context is None else (context.pos, context.per_layer[i], edges)
            h, e, x = layer(h, e, x, pairs, ctx)
        x0 = x if context is not None else remove_com(x, batch)
        d = (x0[pairs[0]] - x0[pairs[1]]).norm(dim=-1)
        bond_in = torch.cat([h[pairs[0]] + h[pairs[1]], e, self.out_rbf(d)], dim=-1)
        return MoleculePrediction(x0, self.out_types(h), self.out_charges(h), self.out_bonds(bond_in))

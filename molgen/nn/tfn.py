"""Tensor-field denoiser (TFN / NequIP-style, built on e3nn) with a fixed-context path.

The same contract as :class:`molgen.nn.egnn.EGNN` (see :mod:`molgen.nn.base`), with features
that are direct sums of irreducible representations of O(3) (``irreps_hidden``, e.g.
``"32x0e + 16x1o + 8x2e"``) instead of invariant scalars plus coordinates.

One layer, for every denoised atom ``i``::

    y_i = SelfLinear(x_i) + Lin_ll( sum_{j in ligand}  TP(W x_j, Y(r_ij); w_ij) ) / norm
                          + Lin_cl( sum_{k in context} TP(W' c_k, Y(r_ik); w'_ik) ) / norm
    x_i <- IrrepsNorm(x_i + Gate(y_i))                 (residual once the irreps match)

``Y`` are spherical harmonics of the edge direction up to ``sh_lmax``; ``TP`` is a "uvu"
tensor product whose per-edge weights ``w_ij`` come from a radial MLP of a Gaussian basis of the
distance, the 0e features of both ends, times a smooth cosine cutoff. Gates are e3nn's
(SiLU on 0e, tanh on 0o, sigmoid gates on the l > 0 pieces). Time enters the 0e input.

The context (pocket) runs through its own equivariant layers once in :meth:`TFN.encode_context`,
and the per-layer source projections ``W' c_k`` (plus their radial-MLP terms) are cached in
``Context.per_layer``: a denoising step runs only ligand-ligand and context->ligand convolutions.

Symmetry. With ``chiral=False`` (default) the network is E(3)-equivariant: ``vec`` is read from
the 1o channels and ``scalars`` from the 0e channels, so a mirrored input gives the mirrored
``vec`` and the same ``scalars`` (0o / 1e hidden pieces may be present; they only reach the
output through parity-respecting products). With ``chiral=True`` parity-odd partners (0o
pseudoscalars, 1e pseudovectors) are added to the hidden irreps if absent, and the readout
treats 0o channels as scalars and 1e channels as vectors. That deliberately breaks reflection
symmetry: the network stays SE(3)-equivariant (rotations and translations) but can tell mirror
images apart, which protein backbones (L-amino acids, right-handed helices) need. Pseudoscalars
first appear after three layers on an isolated graph (Y1 -> 1e -> 0o triple products), or after
one layer when a context encoded with two or more layers is present.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import Tensor, nn

from molgen.nn.base import Context
from molgen.nn.embeddings import GaussianRBF, TimeEmbedding, cosine_cutoff
from molgen.nn.graph import radius_bipartite, radius_graph

__all__ = ["TFN", "hidden_irreps"]


def _scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    out = src.new_zeros((n,) + src.shape[1:])
    return out.index_add_(0, index, src)


def hidden_irreps(irreps_hidden: str | o3.Irreps, chiral: bool = False) -> o3.Irreps:
    """The hidden irreps in the network's order: 0e, then 0o, then the l > 0 pieces sorted.

    With ``chiral`` a ``max(1, n_0e // 4)x0o`` piece is added when there is no 0o piece, and a
    ``max(1, n_1o // 2)x1e`` piece when there is no 1e piece (and some 1o).
    """
    irreps = o3.Irreps(irreps_hidden).sort().irreps.simplify()
    count = {ir: 0 for ir in map(o3.Irrep, ("0e", "0o", "1o", "1e"))}
    for mul, ir in irreps:
        if ir in count:
            count[ir] += mul
    if count[o3.Irrep("0e")] == 0:
        raise ValueError(f"irreps_hidden={irreps_hidden!r} needs a 0e piece (the invariant channels)")
    extra = []
    if chiral and count[o3.Irrep("0o")] == 0:
        extra.append((max(1, count[o3.Irrep("0e")] // 4), "0o"))
    if chiral and count[o3.Irrep("1e")] == 0 and count[o3.Irrep("1o")] > 0:
        extra.append((max(1, count[o3.Irrep("1o")] // 2), "1e"))
    irreps = (irreps + o3.Irreps(extra)).sort().irreps.simplify()
    scalars_e = [(m, ir) for m, ir in irreps if ir == o3.Irrep("0e")]
    scalars_o = [(m, ir) for m, ir in irreps if ir == o3.Irrep("0o")]
    gated = [(m, ir) for m, ir in irreps if ir.l > 0]
    return o3.Irreps(scalars_e + scalars_o + gated)


def _natural_parity(irreps: o3.Irreps) -> o3.Irreps:
    """The same layout with every piece relabelled to parity (-1)^l (0o -> 0e, 1e -> 1o)."""
    return o3.Irreps([(mul, (ir.l, (-1) ** ir.l)) for mul, ir in irreps])


def _gate(irreps: o3.Irreps) -> Gate:
    """A gate whose output is exactly ``irreps`` (as ordered by :func:`hidden_irreps`)."""
    scalars = o3.Irreps([(m, ir) for m, ir in irreps if ir.l == 0])
    gated = o3.Irreps([(m, ir) for m, ir in irreps if ir.l > 0])
    acts = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    gate = Gate(scalars, acts, gates, [torch.sigmoid] * len(gates), gated)
    assert gate.irreps_out.simplify() == irreps.simplify(), (gate.irreps_out, irreps)
    return gate


@dataclass
class _Edges:
    """Geometry of one edge set, computed once per forward and shared by all layers."""

    src: Tensor
    dst: Tensor
    sh: Tensor
    rbf: Tensor
    env: Tensor
    n_dst: int


def _edges(pos_src: Tensor, pos_dst: Tensor, edge_index: Tensor, sh: o3.SphericalHarmonics,
           rbf: GaussianRBF, cutoff: float) -> _Edges:
    src, dst = edge_index
    vec = pos_src[src] - pos_dst[dst]
    d = vec.norm(dim=-1)
    return _Edges(src, dst, sh(vec), rbf(d), cosine_cutoff(d, cutoff)[:, None], pos_dst.shape[0])


class _IrrepsNorm(nn.Module):
    """Equivariant soft normalisation: each irreps piece divided by ``sqrt(1 + mean square)``.

    Near-identity for small features, a cap on growth for large ones; a learnable scale per
    channel.
    """

    def __init__(self, irreps: o3.Irreps) -> None:
        super().__init__()
        self.irreps = irreps
        self.weight = nn.Parameter(torch.ones(irreps.num_irreps))
        offsets, index = 0, []
        for mul, ir in irreps:
            index.append(torch.arange(offsets, offsets + mul).repeat_interleave(ir.dim))
            offsets += mul
        self.register_buffer("index", torch.cat(index), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        parts = []
        for sl in self.irreps.slices():
            block = x[:, sl]
            parts.append(block * torch.rsqrt(1.0 + block.square().mean(dim=-1, keepdim=True)))
        return torch.cat(parts, dim=-1) * self.weight[self.index]


class _Conv(nn.Module):
    """Tensor-product convolution from source nodes to destination nodes along one edge set.

    The source projection splits the 0e channels: as many as the source has only meet the
    l=0 harmonic (scalar messages), ``n_directional`` more meet every harmonic. This keeps the
    per-edge tensor (the cost of the layer) near the size of the l > 0 part instead of
    ``n_0e * (sh_lmax + 1)**2``.

    ``edge_dim > 0``: every edge also carries an invariant feature (e.g. a bond, see
    :mod:`molgen.nn.bond_tfn`) that enters the radial MLP beside the distance.
    """

    def __init__(self, irreps_src: o3.Irreps, irreps_sh: o3.Irreps, irreps_out: o3.Irreps,
                 n_dst_scalars: int, n_directional: int, n_rbf: int, radial_hidden: int,
                 norm: float, edge_dim: int = 0) -> None:
        super().__init__()
        n_src_scalars = irreps_src.count("0e")
        rest = [(m, ir) for m, ir in irreps_src if ir != o3.Irrep("0e")]
        irreps_tp = o3.Irreps([(n_src_scalars, "0e"), (n_directional, "0e")] + rest)
        mid, instr = [], []
        for i, (mul, ir_in) in enumerate(irreps_tp):
            for j, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in irreps_out and mul > 0 and (i > 0 or ir_sh.l == 0):
                        instr.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        mid_irreps, perm, _ = o3.Irreps(mid).sort()
        instr = [(i, j, perm[k], mode, train) for i, j, k, mode, train in instr]
        self.tp = o3.TensorProduct(irreps_tp, irreps_sh, mid_irreps, instr,
                                   internal_weights=False, shared_weights=False)
        self.src_lin = o3.Linear(irreps_src, irreps_tp)
        self.src_rad = nn.Linear(n_src_scalars, radial_hidden, bias=False)
        self.dst_rad = nn.Linear(n_dst_scalars, radial_hidden)
        self.rbf_rad = nn.Linear(n_rbf, radial_hidden, bias=False)
        self.edge_rad = nn.Linear(edge_dim, radial_hidden, bias=False) if edge_dim > 0 else None
        self.radial = nn.Sequential(nn.SiLU(), nn.Linear(radial_hidden, radial_hidden), nn.SiLU(),
                                    nn.Linear(radial_hidden, self.tp.weight_numel))
        self.out = o3.Linear(mid_irreps, irreps_out)
        self.n_src_scalars, self.n_dst_scalars = n_src_scalars, n_dst_scalars
        self.src_dim, self.norm = irreps_tp.dim, norm

    def project_src(self, x_src: Tensor) -> Tensor:
        """Per-node source terms (cached once per sample for context atoms)."""
        return torch.cat([self.src_lin(x_src), self.src_rad(x_src[:, : self.n_src_scalars])], dim=-1)

    def forward(self, src_proj: Tensor, x_dst: Tensor, e: _Edges, edge_feat: Tensor | None = None) -> Tensor:
        feat, rad_src = src_proj.split([self.src_dim, src_proj.shape[1] - self.src_dim], dim=-1)
        rad = self.rbf_rad(e.rbf) + rad_src[e.src] + self.dst_rad(x_dst[:, : self.n_dst_scalars])[e.dst]
        if self.edge_rad is not None:
            rad = rad + self.edge_rad(edge_feat)
        msg = self.tp(feat[e.src], e.sh, self.radial(rad) * e.env)
        return self.out(_scatter_sum(msg, e.dst, e.n_dst) / self.norm)


class _Layer(nn.Module):
    """Self-connection + ligand convolution (+ context convolution) -> gate -> residual, norm."""

    def __init__(self, irreps_in: o3.Irreps, irreps_hidden: o3.Irreps, irreps_ctx: o3.Irreps | None,
                 irreps_sh: o3.Irreps, n_rbf: int, radial_hidden: int, norm: float,
                 edge_dim: int = 0) -> None:
        super().__init__()
        self.gate = _gate(irreps_hidden)
        g = self.gate.irreps_in
        self.sc = o3.Linear(irreps_in, g, biases=True)
        n_dir = max([m for m, ir in irreps_hidden if ir.l > 0], default=0)
        n_scalars = irreps_in.count("0e")  # the destination's (this layer's input) 0e channels
        self.ll = _Conv(irreps_in, irreps_sh, g, n_scalars, n_dir, n_rbf, radial_hidden, norm, edge_dim)
        self.cl = (_Conv(irreps_ctx, irreps_sh, g, n_scalars, n_dir, n_rbf, radial_hidden, norm)
                   if irreps_ctx is not None else None)
        self.residual = irreps_in == irreps_hidden
        self.norm = _IrrepsNorm(irreps_hidden)

    def forward(self, x: Tensor, ll: _Edges, cl: _Edges | None = None,
                ctx_proj: Tensor | None = None, ll_feat: Tensor | None = None) -> Tensor:
        """``ll_feat``: features of the ligand edges (with ``edge_dim > 0``)."""
        y = self.sc(x) + self.ll(self.ll.project_src(x), x, ll, ll_feat)
        if cl is not None and self.cl is not None:
            y = y + self.cl(ctx_proj, x, cl)
        y = self.gate(y)
        return self.norm(x + y if self.residual else y)


class _ContextEncoder(nn.Module):
    """Equivariant message passing among context atoms (run once per sample)."""

    def __init__(self, in_dim: int, irreps_hidden: o3.Irreps, irreps_sh: o3.Irreps, n_layers: int,
                 cutoff: float, n_rbf: int, radial_hidden: int, norm: float) -> None:
        super().__init__()
        n_scalars = irreps_hidden.count("0e")
        self.embed = nn.Linear(in_dim, n_scalars)
        ins = [o3.Irreps(f"{n_scalars}x0e")] + [irreps_hidden] * n_layers
        self.layers = nn.ModuleList(
            _Layer(ins[i], irreps_hidden, None, irreps_sh, n_rbf, radial_hidden, norm)
            for i in range(n_layers)
        )
        self.irreps_out = ins[-1]
        self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.cutoff = cutoff

    def forward(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Tensor:
        x = self.embed(feat)
        if not self.layers:
            return x
        e = _edges(pos, pos, radius_graph(pos, self.cutoff, batch), self.sh, self.rbf, self.cutoff)
        for layer in self.layers:
            x = layer(x, e)
        return x


class TFN(nn.Module):
    """e3nn tensor-product denoiser implementing the :mod:`molgen.nn.base` contract.

    Args:
        n_types: atom-type channels in (noisy one-hot) and out.
        irreps_hidden: hidden features, e.g. ``"32x0e + 16x1o + 8x2e"``; must contain 0e.
        n_layers: equivariant layers on the denoised atoms.
        cutoff: ligand-ligand edge radius in Angstrom (``inf``: complete graph per molecule).
        context_dim: feature size of context atoms (0: unconditional, no context).
        context_cutoff: context->ligand edge radius (Angstrom).
        context_layers: equivariant layers among context atoms (run once per sample).
        context_encoder_cutoff: edge radius among context atoms (Angstrom).
        time_dim: size of the sinusoidal time embedding.
        n_rbf: radial basis size.
        sh_lmax: highest degree of the spherical harmonics of edge directions.
        radial_hidden: width of the radial MLPs that give the tensor-product weights.
        context_irreps: hidden irreps of the context encoder (``None``: ``irreps_hidden``); a
            lighter one (e.g. without 2e) makes ``encode_context`` cheaper, which matters in
            training, where the pocket is encoded every step.
        norm: divisor of summed messages.
        chiral: SE(3)- instead of E(3)-equivariant (see the module docstring).
    """

    def __init__(
        self,
        n_types: int,
        irreps_hidden: str = "32x0e + 16x1o + 8x2e",
        n_layers: int = 4,
        cutoff: float = float("inf"),
        context_dim: int = 0,
        context_cutoff: float = 8.0,
        context_layers: int = 2,
        context_encoder_cutoff: float = 6.0,
        time_dim: int = 16,
        n_rbf: int = 16,
        sh_lmax: int = 2,
        radial_hidden: int = 32,
        norm: float = 10.0,
        chiral: bool = False,
        context_irreps: str | None = None,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"TFN needs n_layers >= 1, got {n_layers}")
        self.n_types, self.chiral = n_types, bool(chiral)
        self.cutoff, self.context_cutoff = float(cutoff), float(context_cutoff)
        self.irreps_hidden = hidden_irreps(irreps_hidden, self.chiral)
        n_scalars = self.irreps_hidden.count("0e")
        irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.rbf_ll = GaussianRBF(n_rbf, min(self.cutoff, 15.0))
        self.rbf_cl = GaussianRBF(n_rbf, self.context_cutoff)
        self.time = TimeEmbedding(time_dim)
        self.embed = nn.Linear(n_types + time_dim, n_scalars)
        self.encoder = (
            _ContextEncoder(context_dim, hidden_irreps(context_irreps or irreps_hidden, self.chiral),
                            irreps_sh, context_layers, float(context_encoder_cutoff), n_rbf,
                            radial_hidden, norm)
            if context_dim > 0 else None
        )
        irreps_ctx = self.encoder.irreps_out if self.encoder is not None else None
        ins = [o3.Irreps(f"{n_scalars}x0e")] + [self.irreps_hidden] * n_layers
        self.layers = nn.ModuleList(
            _Layer(ins[i], self.irreps_hidden, irreps_ctx, irreps_sh, n_rbf, radial_hidden, norm)
            for i in range(n_layers)
        )
        readout = _natural_parity(self.irreps_hidden) if self.chiral else self.irreps_hidden
        if readout.count("1o") == 0:
            raise ValueError(f"irreps_hidden={irreps_hidden!r} needs a 1o piece (the coordinate output)")
        self.head = o3.Linear(readout, o3.Irreps(f"{n_scalars}x0e + 1x1o"), biases=True)
        self.type_out = nn.Sequential(nn.SiLU(), nn.Linear(n_scalars, n_types))
        self._n_scalars = n_scalars

    def encode_context(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Context:
        """Encode fixed context atoms once; the result is reused by every denoising step."""
        if self.encoder is None:
            raise ValueError("this TFN was built with context_dim=0 and takes no context")
        emb = self.encoder(pos, feat, batch)
        return Context(pos, batch, emb, [layer.cl.project_src(emb) for layer in self.layers])

    def forward(
        self, pos: Tensor, h: Tensor, t: Tensor, batch: Tensor, context: Context | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(vec [N, 3], scalars [N, n_types])`` for noisy ``pos`` [N, 3], ``h`` [N, n_types]."""
        x = self.embed(torch.cat([h, self.time(t)[batch].to(h.dtype)], dim=-1))
        ll = _edges(pos, pos, radius_graph(pos, self.cutoff, batch), self.sh, self.rbf_ll, self.cutoff)
        cl = None
        if context is not None:
            if self.encoder is None:
                raise ValueError("this TFN was built with context_dim=0 and takes no context")
            edges = radius_bipartite(pos, context.pos, self.context_cutoff,
                                     context.context_index(batch), context.batch)
            cl = _edges(context.pos, pos, edges, self.sh, self.rbf_cl, self.context_cutoff)
        for i, layer in enumerate(self.layers):
            x = layer(x, ll, cl, context.per_layer[i] if context is not None else None)
        out = self.head(x)
        return out[:, self._n_scalars:], self.type_out(out[:, : self._n_scalars])

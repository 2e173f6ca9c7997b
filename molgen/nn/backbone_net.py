"""A chirality-aware SE(3) denoiser for protein backbones: residue frames + invariant messages.

Nodes of the :mod:`molgen.nn.base` contract are **atoms**, four per residue in residue-major
order ``N, CA, C, O, N, CA, C, O, ...``; each graph (one chain) is ``4 L`` consecutive nodes and
residue ``i`` of a graph is its nodes ``4i .. 4i+3``. The layout itself carries the atom kind and
the sequence position, so the network needs no per-node input beyond coordinates: ``h`` (the
type channel of the contract) is ignored and ``scalars`` are zeros (backbone atoms do not change
kind; :class:`molgen.tasks.backbone.BackboneTask` diffuses coordinates only).

Inside, the network works on residues:

1. a frame per residue from its noisy ``N, CA, C`` (Gram-Schmidt, :func:`frames_from_points`:
   ``e3 = e1 x e2``, always a proper rotation);
2. a residue graph per chain: the ``k`` nearest residues by CA distance plus the sequence
   neighbours ``|i - j| <= seq_window``;
3. invariant features in the local frame of the receiving residue ``i`` (IPA-style): the four
   atoms of residue ``j`` and the chain centroid expressed as ``R_i^T (x - CA_i)``, a radial
   basis of the CA-CA distance, the clipped sequence offset ``j - i`` (embedded); per residue its
   own four atoms in its frame, the time, chain-termini flags and log length;
4. ``n_layers`` of message passing on invariant features (``phi(W_dst h_i + W_src h_j + W_e
   e_ij)``, mean over neighbours, plus the chain mean as a global channel);
5. per residue twelve numbers ``o_ia`` (a = N, CA, C, O) in the local frame, rotated back with
   ``R_i``. With ``output="position"`` (default) they are the clean positions of the residue's
   atoms in its noisy frame and ``vec = CA_i + R_i o_ia - x_ia``, the displacement from each noisy
   atom to its predicted clean position (``predicts = "x0_offset"``: the task reads
   ``x0_hat = x_t + vec``). Ideal local geometry is then a near-constant output, and at high
   noise the implied ``eps`` is exact by construction. With ``output="eps"``, ``vec = R_i o_ia``
   is the noise itself (``predicts = "eps"``).

Symmetry: rotations and translations of the input rotate the frames and leave every feature
unchanged, so ``vec`` is SE(3)-equivariant exactly. A reflection ``P`` maps ``e3`` to ``-P e3``
(the cross product is a pseudovector), so local ``z`` coordinates change sign: the network sees
the mirror image as a *different* input and is free to prefer right-handed helices and
L-amino-acid geometry. It is not E(3)-equivariant, by design.

Coordinates arrive in the task's diffusion units; ``length_unit`` (Angstrom per unit) converts
them so that the features and ``knn``/``rbf_max`` are in Angstrom.

Self-conditioning (``self_condition=True``): ``forward(..., x_sc=...)`` also takes a previous
clean estimate of the atoms (the same layout and units). Its atoms enter as more invariant
features in the noisy frames: per residue its own four estimated atoms, per edge the estimated
atoms of ``j`` and the estimated CA-CA distance. Without ``x_sc`` these features are zeros (the
first pass, as in AlphaFold2 / FrameFlow); the task decides when to feed an estimate back.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from molgen.nn.base import Context
from molgen.nn.embeddings import GaussianRBF, TimeEmbedding
from molgen.nn.graph import batch_ptr
from molgen.protein.geometry import frames_from_points

__all__ = ["ATOMS_PER_RESIDUE", "BackboneNet", "residue_layout", "residue_graph"]

ATOMS_PER_RESIDUE = 4
_FEATURE_SCALE = 10.0  # Angstrom: local coordinates are divided by this before the MLPs


def residue_layout(batch: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """From the atom graph index ``batch`` [4R] (sorted): ``(res_batch [R], res_index [R],
    chain_length [R])``. Raises ``ValueError`` unless every graph has a multiple of 4 atoms."""
    n_graphs = int(batch.max()) + 1 if batch.numel() else 0
    counts = torch.bincount(batch, minlength=n_graphs)
    if batch.numel() % ATOMS_PER_RESIDUE or bool((counts % ATOMS_PER_RESIDUE).any()):
        raise ValueError(f"backbone graphs need 4 atoms (N, CA, C, O) per residue; atom counts per graph: "
                         f"{counts.tolist()[:8]}")
    res_batch = batch[::ATOMS_PER_RESIDUE]
    ptr = batch_ptr(res_batch, n_graphs)
    res_index = torch.arange(res_batch.shape[0], device=batch.device) - ptr[res_batch]
    return res_batch, res_index, (counts // ATOMS_PER_RESIDUE)[res_batch]


@torch.no_grad()
def residue_graph(ca: Tensor, res_batch: Tensor, knn: int, seq_window: int) -> Tensor:
    """Edges ``[src, dst]`` between residues of one chain: the ``knn`` nearest by CA distance
    (of each ``dst``) plus the sequence neighbours ``1 <= |i - j| <= seq_window``."""
    dense, mask = to_dense_batch(ca, res_batch)  # [B, Lmax, 3]
    n_graphs, lmax = mask.shape
    d = torch.cdist(dense, dense)
    valid = mask[:, :, None] & mask[:, None, :]
    eye = torch.eye(lmax, dtype=torch.bool, device=ca.device)[None]
    d = d.masked_fill(~valid | eye, float("inf"))
    keep = torch.zeros_like(valid)
    k = min(knn, lmax - 1)
    if k > 0:
        idx = d.topk(k, dim=-1, largest=False).indices  # [B, Lmax(dst), k]
        keep.scatter_(2, idx, True)
    offset = torch.arange(lmax, device=ca.device)
    sep = (offset[None, :] - offset[:, None]).abs()
    keep |= ((sep >= 1) & (sep <= seq_window))[None]
    keep &= valid & ~eye
    g, dst, src = keep.nonzero(as_tuple=True)
    ptr = batch_ptr(res_batch, n_graphs)
    return torch.stack([src + ptr[g], dst + ptr[g]])


def _scatter_mean(src: Tensor, index: Tensor, n: int) -> Tensor:
    out = src.new_zeros((n,) + src.shape[1:]).index_add_(0, index, src)
    count = torch.bincount(index, minlength=n).clamp(min=1).to(src.dtype)
    return out / count.view(-1, *([1] * (src.dim() - 1)))


class _Layer(nn.Module):
    """Invariant message passing: ``phi(W_dst h_i + W_src h_j + W_e e_ij)``, mean-aggregated."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.dst = nn.Linear(hidden, hidden)
        self.src = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(hidden, hidden, bias=False)
        self.msg = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.node = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.ln = nn.LayerNorm(hidden)

    def forward(self, h: Tensor, e: Tensor, edges: Tensor, res_batch: Tensor, n_graphs: int) -> Tensor:
        src, dst = edges
        m = self.msg(self.dst(h)[dst] + self.src(h)[src] + self.edge(e))
        agg = _scatter_mean(m, dst, h.shape[0])
        glob = _scatter_mean(h, res_batch, n_graphs)[res_batch]
        return self.ln(h + self.node(torch.cat([h, agg, glob], dim=-1)))


class BackboneNet(nn.Module):
    """Residue-frame denoiser implementing the :mod:`molgen.nn.base` contract for backbones.

    Args:
        n_types: width of the (ignored) type channel in and the (zero) scalars out.
        hidden: width of residue and edge features.
        n_layers: message-passing layers.
        knn: spatial neighbours per residue (CA distance).
        seq_window: sequence neighbours on each side that are always connected.
        max_rel: sequence offsets are clipped to ``[-max_rel, max_rel]`` before embedding.
        n_rbf, rbf_max: radial basis of the CA-CA distance (``rbf_max`` in Angstrom).
        time_dim: size of the sinusoidal time embedding.
        length_unit: Angstrom per unit of the input coordinates (the task's ``1 / pos_scale``).
        output: ``"position"`` (``vec`` = predicted clean position minus input, ``predicts =
            "x0_offset"``) or ``"eps"`` (``vec`` = predicted noise).
        self_condition: accept a previous clean estimate ``x_sc`` (see module docstring); off
            keeps the parameters of networks trained without it.
    """

    chiral = True  # SE(3)- but not E(3)-equivariant: tells mirror images apart

    def __init__(
        self,
        n_types: int = 4,
        hidden: int = 128,
        n_layers: int = 6,
        knn: int = 16,
        seq_window: int = 3,
        max_rel: int = 32,
        n_rbf: int = 16,
        rbf_max: float = 24.0,
        time_dim: int = 16,
        length_unit: float = 10.0,
        output: str = "position",
        self_condition: bool = False,
    ) -> None:
        super().__init__()
        if output not in ("position", "eps"):
            raise ValueError(f"output={output!r}: choose 'position' or 'eps'")
        self.output = output
        self.predicts = "x0_offset" if output == "position" else "eps"
        self.n_types, self.hidden = int(n_types), int(hidden)
        self.knn, self.seq_window, self.max_rel = int(knn), int(seq_window), int(max_rel)
        self.length_unit = float(length_unit)
        self.time = TimeEmbedding(time_dim)
        self.rbf = GaussianRBF(n_rbf, rbf_max)
        # node: own 4 atoms (12) + centroid (3) + |centroid| rbf (n_rbf) + termini (2) + log L (1) + time
        self.embed_node = nn.Sequential(nn.Linear(12 + 3 + n_rbf + 3 + time_dim, hidden), nn.SiLU(),
                                        nn.Linear(hidden, hidden))
        self.rel = nn.Embedding(2 * self.max_rel + 1, hidden)
        # edge: atoms of j in frame i (12) + rbf(CA-CA) (n_rbf) + embedded sequence offset
        self.embed_edge = nn.Sequential(nn.Linear(12 + n_rbf, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.edge_ln = nn.LayerNorm(hidden)
        self.self_condition = bool(self_condition)
        if self.self_condition:  # estimated atoms: own (12); of j in frame i (12) + rbf(estimated CA-CA)
            self.embed_sc_node = nn.Linear(12, hidden)
            self.embed_sc_edge = nn.Linear(12 + n_rbf, hidden)
        self.layers = nn.ModuleList(_Layer(hidden) for _ in range(n_layers))
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 3 * ATOMS_PER_RESIDUE))

    def encode_context(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Context:
        """Backbones take no fixed context (motifs are imposed by the task's sampling loop)."""
        raise ValueError("BackboneNet takes no context: motif residues are fixed by task=backbone's sampler")

    def forward(
        self, pos: Tensor, h: Tensor, t: Tensor, batch: Tensor, context: Context | None = None,
        x_sc: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``vec`` [4R, 3] (input units, see ``output``); ``scalars`` zeros. ``x_sc`` [4R, 3]: a
        previous clean estimate (input units), only with ``self_condition=True``."""
        if context is not None:
            raise ValueError("BackboneNet takes no context")
        if x_sc is not None and not self.self_condition:
            raise ValueError("x_sc given to a BackboneNet built with self_condition=False")
        res_batch, res_index, length = residue_layout(batch)
        n_graphs = int(t.shape[0])
        atoms = pos.reshape(-1, ATOMS_PER_RESIDUE, 3) * self.length_unit  # [R, 4, 3] Angstrom
        n, ca, c = atoms[:, 0], atoms[:, 1], atoms[:, 2]
        rot, _ = frames_from_points(n, ca, c)  # [R, 3, 3], columns e1 e2 e3

        def local(points: Tensor, index: Tensor) -> Tensor:
            """``R_i^T (points - CA_i)`` for residues ``index``; points [E, ..., 3]."""
            shape = points.shape
            rel = points.reshape(shape[0], -1, 3) - ca[index][:, None]
            return torch.einsum("eji,eaj->eai", rot[index], rel).reshape(shape)

        idx = torch.arange(atoms.shape[0], device=pos.device)
        own = local(atoms, idx).reshape(-1, 12) / _FEATURE_SCALE
        centroid = _scatter_mean(atoms.reshape(-1, 3), batch, n_graphs)[res_batch]
        cen = local(centroid, idx)
        termini = torch.stack([(res_index == 0), (res_index == length - 1)], dim=-1).to(pos.dtype)
        node_in = torch.cat([own, cen / _FEATURE_SCALE, self.rbf(cen.norm(dim=-1)), termini,
                             torch.log(length.to(pos.dtype))[:, None] / 5.0, self.time(t)[res_batch]], dim=-1)
        x = self.embed_node(node_in)

        edges = residue_graph(ca.detach(), res_batch, self.knn, self.seq_window)
        src, dst = edges
        nb = local(atoms[src], dst).reshape(-1, 12) / _FEATURE_SCALE
        d = (ca[src] - ca[dst]).norm(dim=-1)
        offset = (res_index[src] - res_index[dst]).clamp(-self.max_rel, self.max_rel) + self.max_rel
        e = self.embed_edge(torch.cat([nb, self.rbf(d)], dim=-1)) + self.rel(offset)
        if self.self_condition:
            sc_node, sc_edge = self._self_condition_features(x_sc, idx, src, dst, local)
            x = x + self.embed_sc_node(sc_node)
            e = e + self.embed_sc_edge(sc_edge)
        e = self.edge_ln(e)

        for layer in self.layers:
            x = layer(x, e, edges, res_batch, n_graphs)
        out = torch.einsum("rij,raj->rai", rot, self.out(x).reshape(-1, ATOMS_PER_RESIDUE, 3))
        if self.output == "position":  # local positions in nm-like units -> displacement, input units
            clean = ca[:, None] + out * _FEATURE_SCALE
            out = (clean - atoms) / self.length_unit
        return out.reshape(-1, 3), pos.new_zeros(pos.shape[0], self.n_types)

    def _self_condition_features(self, x_sc: Tensor | None, idx: Tensor, src: Tensor, dst: Tensor,
                                 local: Callable[[Tensor, Tensor], Tensor]) -> tuple[Tensor, Tensor]:
        """Invariant features of the estimate ``x_sc`` in the noisy frames (zeros without one)."""
        n_rbf = self.embed_sc_edge.in_features - 12
        if x_sc is None:
            w = self.embed_sc_node.weight
            return w.new_zeros(idx.shape[0], 12), w.new_zeros(src.shape[0], 12 + n_rbf)
        sc = x_sc.reshape(-1, ATOMS_PER_RESIDUE, 3) * self.length_unit
        own = local(sc, idx).reshape(-1, 12) / _FEATURE_SCALE
        nb = local(sc[src], dst).reshape(-1, 12) / _FEATURE_SCALE
        d = (sc[src, 1] - sc[dst, 1]).norm(dim=-1)
        return own, torch.cat([nb, self.rbf(d)], dim=-1)

    def extra_repr(self) -> str:
        return (f"knn={self.knn}, seq_window={self.seq_window}, length_unit={self.length_unit}, "
                f"output={self.output}, self_condition={self.self_condition}")

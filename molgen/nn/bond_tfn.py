"""E(3)-equivariant tensor-field denoiser over atoms *and* bonds: the TFN with a feature per atom pair.

The same contract as :class:`~molgen.nn.bond_egnn.BondEGNN` (noisy
:class:`~molgen.diffusion.molecule_state.MoleculeState` parts in, a
:class:`~molgen.diffusion.molecule_flow.MoleculePrediction` out), built from the layers of
:mod:`molgen.nn.tfn` (e3nn tensor products, gates, the pocket encoder).

Every pair ``i < j`` of a molecule (complete graph, ``pairs`` [2, P]) carries an invariant edge
feature ``e_ij`` initialised from the noisy bond type. In each layer it is one more input of the
radial MLP that gives the tensor-product weights of the messages ``j -> i`` and ``i -> j`` (beside
the distance and the 0e features of both ends); after the layer it is updated from the 0e parts of
the two atoms' new features, symmetrically (``h_i + h_j``, so a pair's feature does not depend on
its direction), its own value and the distance.

Outputs: clean coordinates ``x0 = pos + v`` with ``v`` the 1o readout of each atom (zero-CoM
without a context), logits of atom types and formal charges from the 0e readout, and bond logits
per pair from the final pair feature, the symmetric sum of the two atoms' 0e readouts and the
radial features of their distance in ``x0``.

Symmetry: E(3) (reflections included), as :class:`~molgen.nn.tfn.TFN` with ``chiral=False``; there
is no chiral variant (molecule data hold both mirror images).

Self-conditioning (``self_condition=True``): the previous clean estimate enters as extra invariant
inputs, as in :class:`~molgen.nn.bond_egnn.BondEGNN` (atom-type, charge and bond probabilities and
the radial features of its pair distances).

Context (``context_dim > 0``, a pocket): as in :class:`~molgen.nn.tfn.TFN`, the context atoms run
through their own equivariant layers once in :meth:`BondTFN.encode_context` (the per-layer source
projections cached), and each layer adds a context -> atom convolution over edges within
``context_cutoff``; a denoising step never recomputes the pocket. Coordinates are then in the
context's frame and ``x0`` is not re-centred.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.molecule_flow import MoleculePrediction
from molgen.nn.base import Context
from molgen.nn.bond_egnn import MoleculeInputs
from molgen.nn.embeddings import GaussianRBF
from molgen.nn.graph import radius_bipartite
from molgen.nn.tfn import _ContextEncoder, _edges, _Layer, hidden_irreps

__all__ = ["BondTFN"]


class _PairUpdate(nn.Module):
    """``e_ij <- LayerNorm(e_ij + MLP(s_i + s_j, e_ij, rbf(d_ij)))`` from the atoms' 0e channels ``s``."""

    def __init__(self, n_scalars: int, edge_dim: int, n_rbf: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_scalars + edge_dim + n_rbf, hidden), nn.SiLU(),
                                 nn.Linear(hidden, edge_dim))
        self.ln = nn.LayerNorm(edge_dim)

    def forward(self, s: Tensor, e: Tensor, pairs: Tensor, rbf: Tensor) -> Tensor:
        return self.ln(e + self.mlp(torch.cat([s[pairs[0]] + s[pairs[1]], e, rbf], dim=-1)))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class BondTFN(nn.Module):
    """Bond-aware e3nn tensor-product denoiser.

    Args:
        n_types: atom types (in and out); n_charges, n_bond_types: charge and bond categories.
        irreps_hidden: hidden atom features, e.g. ``"32x0e + 8x1o + 4x2e"`` (needs 0e and 1o).
        n_layers: equivariant layers on the denoised atoms.
        hidden: width of the invariant MLPs (pair updates, atom and bond readouts).
        edge_dim: width of the pair features.
        time_dim, n_rbf, r_max: time embedding size, radial basis size and its range (Angstrom).
        sh_lmax: highest degree of the spherical harmonics of edge directions.
        radial_hidden: width of the radial MLPs that give the tensor-product weights.
        norm: divisor of summed messages.
        self_condition: take the previous clean estimate as input.
        context_dim: feature size of context (pocket) atoms, 0: unconditional.
        context_cutoff, context_layers, context_encoder_cutoff, context_irreps: the context path,
            as in :class:`~molgen.nn.tfn.TFN`.
    """

    def __init__(self, n_types: int, n_charges: int = 3, n_bond_types: int = 5,
                 irreps_hidden: str = "32x0e + 8x1o + 4x2e", n_layers: int = 4, hidden: int = 64,
                 edge_dim: int = 16, time_dim: int = 16, n_rbf: int = 16, r_max: float = 10.0,
                 sh_lmax: int = 2, radial_hidden: int = 32, norm: float = 10.0, self_condition: bool = False,
                 context_dim: int = 0, context_cutoff: float = 8.0, context_layers: int = 2,
                 context_encoder_cutoff: float = 6.0, context_irreps: str | None = None) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"BondTFN needs n_layers >= 1, got {n_layers}")
        self.n_types, self.n_charges, self.n_bond_types = n_types, n_charges, n_bond_types
        self.self_condition = bool(self_condition)
        self.context_cutoff = float(context_cutoff)
        self.irreps_hidden = hidden_irreps(irreps_hidden)
        if self.irreps_hidden.count("1o") == 0:
            raise ValueError(f"irreps_hidden={irreps_hidden!r} needs a 1o piece (the coordinate output)")
        ns = self._n_scalars = self.irreps_hidden.count("0e")
        irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.rbf = GaussianRBF(n_rbf, r_max)
        self.rbf_cl = GaussianRBF(n_rbf, self.context_cutoff)
        self.inputs = MoleculeInputs(n_types, n_charges, n_bond_types, time_dim, n_rbf, r_max,
                                     self.self_condition)
        self.embed = nn.Linear(self.inputs.node_dim, ns)
        self.embed_e = nn.Linear(self.inputs.edge_dim, edge_dim)
        self.encoder = (
            _ContextEncoder(context_dim, hidden_irreps(context_irreps or irreps_hidden), irreps_sh,
                            context_layers, float(context_encoder_cutoff), n_rbf, radial_hidden, norm)
            if context_dim > 0 else None
        )
        irreps_ctx = self.encoder.irreps_out if self.encoder is not None else None
        ins = [o3.Irreps(f"{ns}x0e")] + [self.irreps_hidden] * n_layers
        self.layers = nn.ModuleList(
            _Layer(ins[i], self.irreps_hidden, irreps_ctx, irreps_sh, n_rbf, radial_hidden, norm, edge_dim)
            for i in range(n_layers)
        )
        self.pair_updates = nn.ModuleList(_PairUpdate(ns, edge_dim, n_rbf, hidden) for _ in range(n_layers))
        self.head = o3.Linear(self.irreps_hidden, o3.Irreps(f"{ns}x0e + 1x1o"), biases=True)
        self.out_types = _mlp(ns, hidden, n_types)
        self.out_charges = _mlp(ns, hidden, n_charges)
        self.out_bonds = _mlp(ns + edge_dim + n_rbf, hidden, n_bond_types)

    def encode_context(self, pos: Tensor, feat: Tensor, batch: Tensor) -> Context:
        """Encode fixed context atoms once; the result is reused by every denoising step."""
        if self.encoder is None:
            raise ValueError("this BondTFN was built with context_dim=0 and takes no context")
        emb = self.encoder(pos, feat, batch)
        return Context(pos, batch, emb, [layer.cl.project_src(emb) for layer in self.layers])

    def forward(self, pos: Tensor, atom_types: Tensor, charges: Tensor, bond_types: Tensor, pairs: Tensor,
                t: Tensor, batch: Tensor, cond: MoleculePrediction | None = None,
                context: Context | None = None) -> MoleculePrediction:
        """Clean estimate of a noisy state (categories as indices, ``t`` [B] per graph). With a
        ``context``, coordinates are in its frame and the output is not re-centred."""
        node, edge = self.inputs(pos, atom_types, charges, bond_types, pairs, t, batch, cond)
        x, e = self.embed(node), self.embed_e(edge)
        # ligand edges: every pair in both directions (j -> i, then i -> j), the pair feature on both
        n_pairs = pairs.shape[1]
        ll = _edges(pos, pos, torch.cat([pairs, pairs.flip(0)], dim=1), self.sh, self.rbf, float("inf"))
        pair_rbf = ll.rbf[:n_pairs]
        cl = None
        if context is not None:
            if self.encoder is None:
                raise ValueError("this BondTFN was built with context_dim=0 and takes no context")
            edges = radius_bipartite(pos, context.pos, self.context_cutoff, context.context_index(batch),
                                     context.batch)
            cl = _edges(context.pos, pos, edges, self.sh, self.rbf_cl, self.context_cutoff)
        for i, (layer, update) in enumerate(zip(self.layers, self.pair_updates)):
            x = layer(x, ll, cl, context.per_layer[i] if context is not None else None, e.repeat(2, 1))
            e = update(x[:, : self._n_scalars], e, pairs, pair_rbf)
        out = self.head(x)
        s, x0 = out[:, : self._n_scalars], pos + out[:, self._n_scalars:]
        if context is None:
            x0 = remove_com(x0, batch)
        d = (x0[pairs[0]] - x0[pairs[1]]).norm(dim=-1)
        bond_in = torch.cat([s[pairs[0]] + s[pairs[1]], e, self.rbf(d)], dim=-1)
        return MoleculePrediction(x0, self.out_types(s), self.out_charges(s), self.out_bonds(bond_in))

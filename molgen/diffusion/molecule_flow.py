"""The composite flow over a :class:`~molgen.diffusion.molecule_state.MoleculeState`.

Each part has the process that fits it (DESIGN principle 11):

- coordinates: the linear flow ``x_t = (1 - t) x_0 + t z`` with ``z`` a zero-CoM Gaussian of scale
  ``pos_std`` (Angstrom) aligned to ``x_0`` by permutation and rotation (:mod:`.alignment`) in
  training; the network predicts ``x_0``; an Euler step is ``x_s = x0_hat + (s / t)(x_t - x0_hat)``;
- atom types, charges, bonds: :class:`~molgen.diffusion.categorical.CategoricalFlow` each (prior:
  the training data's marginals, given in the config).

With ``zero_com=False`` (a molecule in a pocket's frame, which fixes position and orientation)
the coordinate prior is a Gaussian around the origin (the pocket centroid) without CoM projection,
the training alignment permutes the prior but does not rotate it (rotations are no symmetry there),
and the steps do not re-centre.

Time runs from 1 (prior) to 0 (data), as everywhere in molgen. Training times are drawn from
``Beta(time_beta)`` (SemlaFlow's Beta(2, 1) towards the data, in molgen's direction Beta(1, 2));
``None`` draws them uniformly. The loss is a weighted sum of the coordinate MSE (of ``x0_hat``)
and the cross-entropies of the three categorical parts (MiDi's / FlowMol's weights by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from molgen.diffusion.alignment import align_prior
from molgen.diffusion.categorical import CategoricalFlow
from molgen.diffusion.com import remove_com
from molgen.diffusion.molecule_state import MoleculeState, all_pairs

__all__ = ["MoleculeFlow", "MoleculePrediction"]


@dataclass
class MoleculePrediction:
    """Network output: ``x0`` [N, 3] clean coordinates, logits of atom types [N, T], charges [N, Q]
    and bond types [P, K]."""

    x0: Tensor
    atom_logits: Tensor
    charge_logits: Tensor
    bond_logits: Tensor

    def detached(self) -> "MoleculePrediction":
        return MoleculePrediction(*(v.detach() for v in (self.x0, self.atom_logits, self.charge_logits,
                                                          self.bond_logits)))


@dataclass(frozen=True)
class MoleculeFlow:
    """Flow matching over coordinates, atom types, charges and bonds.

    Args:
        atom_types, charges, bonds: the categorical flow of each part.
        pos_std: standard deviation of the coordinate prior (Angstrom).
        align_prior: permute and rotate the prior sample onto each training molecule.
        time_beta: ``(a, b)`` of the training time distribution, or ``None`` (uniform).
        weights: loss weights ``{pos, atom_types, charges, bonds}``.
        zero_com: coordinates live in the zero-CoM subspace (unconditional molecules); ``False``
            for a frame fixed by context (a pocket).
    """

    atom_types: CategoricalFlow
    charges: CategoricalFlow
    bonds: CategoricalFlow
    pos_std: float = 1.0
    align_prior: bool = True
    time_beta: Sequence[float] | None = (1.0, 2.0)
    weights: dict = field(default_factory=lambda: {"pos": 3.0, "atom_types": 0.4, "charges": 1.0, "bonds": 2.0})
    t_min: float = 1e-3
    zero_com: bool = True

    def __post_init__(self) -> None:
        w = dict(self.weights)
        unknown = set(w) - {"pos", "atom_types", "charges", "bonds"}
        if unknown:
            raise ValueError(f"weights: unknown part(s) {sorted(unknown)}")
        object.__setattr__(self, "weights", {k: float(w.get(k, 1.0)) for k in ("pos", "atom_types", "charges", "bonds")})
        if self.time_beta is not None:
            object.__setattr__(self, "time_beta", tuple(float(v) for v in self.time_beta))

    # ---- training ------------------------------------------------------------------------------
    def sample_time(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if self.time_beta is None:
            t = torch.rand(n, generator=generator)
        else:  # integer (a, b): the a-th smallest of a + b - 1 uniforms is Beta(a, b), seedable
            a, b = self.time_beta
            if float(a).is_integer() and float(b).is_integer():
                u = torch.rand(n, int(a + b - 1), generator=generator).sort(dim=1).values
                t = u[:, int(a) - 1]
            else:
                t = torch.distributions.Beta(a, b).sample((n,))
        return t.clamp(self.t_min, 1.0)

    def center(self, pos: Tensor, batch: Tensor) -> Tensor:
        """``pos`` projected to zero CoM per graph when ``zero_com``, else unchanged."""
        return remove_com(pos, batch) if self.zero_com else pos

    def pos_prior(self, batch: Tensor, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(batch.shape[0], 3, generator=generator).to(batch.device) * self.pos_std
        return self.center(z, batch)

    def noise(self, clean: MoleculeState, t: Tensor, generator: torch.Generator | None = None) -> MoleculeState:
        """A draw of the state at times ``t`` [B] (one per graph) given the clean state."""
        z = self.pos_prior(clean.batch, generator)
        if self.align_prior:
            z = align_prior(z, clean.pos, clean.batch, rotate=self.zero_com)
        tn, tp = t[clean.batch], t[clean.pair_batch]
        pos = (1 - tn)[:, None] * clean.pos + tn[:, None] * z
        return clean.replace(
            pos=pos,
            atom_types=self.atom_types.interpolate(clean.atom_types, tn, generator),
            charges=self.charges.interpolate(clean.charges, tn, generator),
            bond_types=self.bonds.interpolate(clean.bond_types, tp, generator),
        )

    def loss(self, pred: MoleculePrediction, clean: MoleculeState) -> dict[str, Tensor]:
        parts = {
            "pos": (pred.x0 - clean.pos).square().sum(-1).mean(),
            "atom_types": F.cross_entropy(pred.atom_logits, clean.atom_types),
            "charges": F.cross_entropy(pred.charge_logits, clean.charges),
            "bonds": F.cross_entropy(pred.bond_logits, clean.bond_types) if clean.bond_types.numel()
            else pred.bond_logits.sum() * 0,
        }
        total = sum(self.weights[k] * v for k, v in parts.items())
        return {"loss": total, **{f"loss_{k}": v for k, v in parts.items()}}

    # ---- sampling ------------------------------------------------------------------------------
    def prior(self, n_atoms: Sequence[int], generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> MoleculeState:
        sizes = torch.as_tensor(list(n_atoms), dtype=torch.long)
        batch = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
        pairs = all_pairs(batch)
        state = MoleculeState(
            pos=self.pos_prior(batch, generator),
            atom_types=self.atom_types.sample_prior(batch.numel(), generator),
            charges=self.charges.sample_prior(batch.numel(), generator),
            bond_types=self.bonds.sample_prior(pairs.shape[1], generator),
            pairs=pairs, batch=batch, n_graphs=len(sizes),
        )
        return state.replace(**{k: getattr(state, k).to(device) for k in
                                ("pos", "atom_types", "charges", "bond_types", "pairs", "batch")})

    def step(self, x: MoleculeState, pred: MoleculePrediction, t: float, s: float,
             generator: torch.Generator | None = None) -> MoleculeState:
        """One Euler move from ``t`` to ``s < t`` (at ``s = 0``: the prediction itself, argmax)."""
        x0 = self.center(pred.x0, x.batch)
        pos = x0 if s <= 0 else x0 + (s / t) * (x.pos - x0)
        return x.replace(
            pos=pos,
            atom_types=self.atom_types.step(x.atom_types, pred.atom_logits.softmax(-1), t, s, generator),
            charges=self.charges.step(x.charges, pred.charge_logits.softmax(-1), t, s, generator),
            bond_types=self.bonds.step(x.bond_types, pred.bond_logits.softmax(-1), t, s, generator),
        )

    def correct(self, x_t: MoleculeState, x_s: MoleculeState, pred_t: MoleculePrediction,
                pred_s: MoleculePrediction, t: float, s: float) -> MoleculeState:
        """Heun's correction of an Euler step's coordinates: the mean of the velocities
        ``(x - x0_hat) / t`` at ``(x_t, t)`` and at the Euler point ``(x_s, s)``; categories as the step left them."""
        v_t = (x_t.pos - self.center(pred_t.x0, x_t.batch)) / t
        v_s = (x_s.pos - self.center(pred_s.x0, x_s.batch)) / s
        return x_s.replace(pos=x_t.pos + (s - t) * 0.5 * (v_t + v_s))

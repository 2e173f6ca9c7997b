"""Sampling-time guidance that keeps generated ligand atoms out of the pocket's atoms.

A pocket model trained on a few hundred complexes places most ligands well but leaves a few atoms
inside the protein: PoseBusters' ``minimum_distance_to_protein`` was the check most of our
generated poses failed. :class:`PocketRepulsion` corrects the network's clean estimate at every
sampling step (a clash guidance on ``x0``, in the spirit of DecompDiff's): each ligand atom closer than
``min_distance`` to a pocket atom is moved out along the pair's direction, in relaxation
iterations of the penalty ``1/2 sum relu(min_distance - d)^2``. Ligand atom pairs closer than
``keep_within`` in the estimate (bonds and the 1-3 pairs that fix bond angles) are held at their
estimated distances meanwhile, so a clash moves its neighbours along instead of stretching bonds;
the next network evaluation sees the corrected state.

The correction depends only on ligand-pocket and ligand-ligand difference vectors: it is equivariant to
rotations, reflections and translations of ligand and pocket together, to permutations of the
ligand atoms, and invariant to the order of the pocket atoms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

__all__ = ["PocketRepulsion"]


@dataclass(frozen=True)
class PocketRepulsion:
    """Moves ligand atoms of a clean estimate out of a ``min_distance`` sphere around pocket atoms.

    Args:
        min_distance: Angstrom; heavy-atom pairs closer than this are pushed apart. PoseBusters
            counts a clash below 0.75 x the sum of van der Waals radii (2.3-2.6 A for C, N, O, S
            pairs); hydrogen bonds sit at 2.6-3.1 A.
        iterations: relaxation iterations per sampling step.
        rate: share of each pair's overlap removed per iteration (overlaps of several pocket atoms
            add up, so a rate below 1 keeps the move from overshooting).
        keep_within: Angstrom; ligand atom pairs of one molecule closer than this in the estimate
            keep their distance while clashes are pushed out (0: atoms move independently).
        stop_time: flow time (1: noise, 0: data) below which estimates are left as predicted; 0
            guides every step (the last estimate is the sample).
    """

    min_distance: float = 2.8
    iterations: int = 20
    rate: float = 0.5
    keep_within: float = 2.7
    stop_time: float = 0.0

    def __post_init__(self) -> None:
        if not self.min_distance > 0:
            raise ValueError(f"min_distance={self.min_distance}: must be > 0 (Angstrom)")
        if self.iterations < 1:
            raise ValueError(f"iterations={self.iterations}: must be >= 1")
        if not 0 < self.rate <= 1:
            raise ValueError(f"rate={self.rate}: must be in (0, 1]")
        if not self.keep_within >= 0:
            raise ValueError(f"keep_within={self.keep_within}: must be >= 0 (Angstrom)")
        if not 0 <= self.stop_time < 1:
            raise ValueError(f"stop_time={self.stop_time}: must be in [0, 1)")

    def push(self, pos: Tensor, pocket_pos: Tensor, pairs: Tensor | None = None) -> Tensor:
        """``pos`` [N, 3] moved out of the pocket atoms ``pocket_pos`` [P, 3] (same frame).
        ``pairs`` [2, M]: the ligand atom pairs that may be held (pairs within one molecule; a batch
        of ligands in one pocket overlaps in space); ``None``: no pair is held."""
        if pos.numel() == 0 or pocket_pos.numel() == 0:
            return pos
        reach = self.min_distance
        # the ligand-pocket pairs that can come within reach: within twice the distance now (an atom
        # moves by about its overlap; one pass over the dense distances, then sparse iterations)
        lig, poc = (torch.cdist(pos, pocket_pos) < 2 * reach).nonzero(as_tuple=True)
        if lig.numel() == 0:
            return pos
        held = self._held_pairs(pos, pairs)
        length = (pos[held[0]] - pos[held[1]]).norm(dim=-1)
        for _ in range(self.iterations):
            diff = pos[lig] - pocket_pos[poc]
            d = diff.norm(dim=-1, keepdim=True)
            overlap = (reach - d).clamp(min=0.0)
            if not bool((overlap > 0).any()):
                break
            pos = pos.index_add(0, lig, self.rate * overlap / d.clamp(min=1e-6) * diff)
            if held.shape[1]:
                bond = pos[held[0]] - pos[held[1]]
                b = bond.norm(dim=-1, keepdim=True).clamp(min=1e-6)
                fix = 0.5 * self.rate * (length[:, None] - b) * bond / b  # each end takes half
                pos = pos.index_add(0, held[0], fix).index_add(0, held[1], -fix)
        return pos

    def _held_pairs(self, pos: Tensor, pairs: Tensor | None) -> Tensor:
        if pairs is None or self.keep_within == 0 or pairs.shape[1] == 0:
            return torch.zeros(2, 0, dtype=torch.long, device=pos.device)
        close = (pos[pairs[0]] - pos[pairs[1]]).norm(dim=-1) < self.keep_within
        return pairs[:, close]

    def bind(self, pocket_pos: Tensor):
        """The guide ``(prediction, state, t) -> prediction`` a sampling loop applies to the clean
        estimate at flow time ``t`` (the ligand pairs that may be held are the state's)."""
        def guide(pred, state, t: float):
            if t < self.stop_time:
                return pred
            x0 = pred.x0
            return replace(pred, x0=self.push(x0, pocket_pos.to(x0.device, x0.dtype), state.pairs))
        return guide

"""Sampling-time guidance that brings the pieces of a generated molecule within bonding reach.

A bond-aware model predicts a bond type for every atom pair; an under-trained one often predicts a
molecule in two or more pieces whose atoms lie too far apart for any bond (the valence repair joins
pieces only at bonding distance). :class:`FragmentAttraction` corrects the network's clean estimate at
every sampling step: it finds the pieces of each molecule in the estimate's most likely bonds and
moves every piece but the largest, rigidly, toward the largest until their closest atoms are
``bond_distance`` apart; the next network evaluation sees the pieces touching and can bond them.
Only the second half of the flow is guided (``start_time``): earlier, the estimate's bonds are
mostly noise.

The correction depends only on difference vectors and on the bond logits of atom pairs: it is
equivariant to rotations, reflections and translations, and to permutations of the atoms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

__all__ = ["FragmentAttraction", "pieces"]


def pieces(n_nodes: int, edges: Tensor) -> Tensor:
    """``long [n_nodes]``: for every node, the smallest node index of its connected component
    under ``edges`` [2, E]."""
    label = torch.arange(n_nodes, device=edges.device)
    if edges.shape[1] == 0:
        return label
    while True:
        low = torch.minimum(label[edges[0]], label[edges[1]])
        new = label.scatter_reduce(0, edges[0], low, "amin").scatter_reduce(0, edges[1], low, "amin")
        new = new[new]  # jump to the label's label: halves the rounds on long chains
        if torch.equal(new, label):
            return label
        label = new


@dataclass(frozen=True)
class FragmentAttraction:
    """Moves the smaller pieces of each molecule's clean estimate next to its largest piece.

    Args:
        bond_distance: Angstrom; a piece moves until its atom closest to the largest piece is this far
            from that piece's closest atom (a single C-C bond is 1.54 A).
        start_time: flow time (1: noise, 0: data) at and below which estimates are guided. Measured
            on 16 CrossDocked test pockets x 4 (docs/benchmarks.md): 0.4-0.6 join most pieces; from
            1.0 the early, bondless estimates are all pieces and collapse onto one another; from
            0.25 the late jumps leave atoms on top of one another.
        stop_time: flow time below which estimates are left as predicted (0: guided to the end).
    """

    bond_distance: float = 1.5
    start_time: float = 0.5
    stop_time: float = 0.0

    def __post_init__(self) -> None:
        if not self.bond_distance > 0:
            raise ValueError(f"bond_distance={self.bond_distance}: must be > 0 (Angstrom)")
        if not 0 < self.start_time <= 1:
            raise ValueError(f"start_time={self.start_time}: must be in (0, 1]")
        if not 0 <= self.stop_time < self.start_time:
            raise ValueError(f"stop_time={self.stop_time}: must be in [0, start_time={self.start_time})")

    def pull(self, pos: Tensor, bonded: Tensor, pairs: Tensor, batch: Tensor) -> Tensor:
        """``pos`` [N, 3] with the pieces moved; ``bonded`` [P] bool over ``pairs`` [2, P] (pairs of
        atoms of one molecule), ``batch`` [N] the molecule of each atom."""
        n = pos.shape[0]
        if n == 0 or pairs.shape[1] == 0:
            return pos
        label = pieces(n, pairs[:, bonded])
        size = torch.bincount(label, minlength=n)
        # the largest piece of each molecule (ties: the one holding the lowest atom index)
        key = size[label] * (n + 1) + (n - label)
        best = torch.zeros(int(batch.max()) + 1, dtype=key.dtype, device=pos.device)
        best = best.scatter_reduce(0, batch, key, "amax", include_self=False)
        main = label == n - best[batch] % (n + 1)
        if bool(main.all()):
            return pos
        src = torch.cat([pairs[0], pairs[1]])
        dst = torch.cat([pairs[1], pairs[0]])
        keep = ~main[src] & main[dst]
        src, dst = src[keep], dst[keep]
        vec = pos[dst] - pos[src]
        d = vec.norm(dim=-1)
        piece = label[src]
        closest = torch.full((n,), float("inf"), dtype=d.dtype, device=pos.device)
        closest = closest.scatter_reduce(0, piece, d, "amin")
        # one closest pair per piece (the first in pair order on ties)
        order = torch.arange(d.numel(), device=pos.device)
        at = torch.where(d == closest[piece], order, d.numel())
        first = torch.full((n,), d.numel(), dtype=order.dtype, device=pos.device)
        first = first.scatter_reduce(0, piece, at, "amin")
        has = first < d.numel()
        k = first[has]
        shift = torch.zeros_like(pos)
        scale = (1.0 - self.bond_distance / d[k].clamp(min=1e-6)).clamp(min=0.0)
        shift[has] = vec[k] * scale[:, None]
        return pos + torch.where(main[:, None], torch.zeros_like(pos), shift[label])

    def bind(self, pocket_pos: Tensor | None = None):
        """The guide ``(prediction, state, t) -> prediction`` a sampling loop applies to the clean
        estimate at flow time ``t`` (the pocket plays no part; the argument keeps the guides'
        common form)."""
        def guide(pred, state, t: float):
            if not self.stop_time <= t <= self.start_time:
                return pred
            bonded = pred.bond_logits.argmax(-1) != 0
            return replace(pred, x0=self.pull(pred.x0, bonded, state.pairs, state.batch))
        return guide

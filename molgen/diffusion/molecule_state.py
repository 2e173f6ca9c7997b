"""The state a bond-aware molecule model generates: coordinates, atom types, charges, and a bond
type for every pair of atoms of the same molecule.

Pairs are the upper triangle (``i < j``) of each molecule, in graph order; ``bond_types`` holds one
category per pair (0: no bond). Categories are indices: ``atom_types`` into the task's elements,
``charges`` into :data:`molgen.chem.bond_graph.CHARGES`, ``bond_types`` into
:data:`molgen.chem.bond_graph.BOND_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable

import torch
from torch import Tensor

__all__ = ["FixedMolecule", "MoleculeState", "all_pairs", "pair_values"]


def all_pairs(batch: Tensor) -> Tensor:
    """``long [2, P]``: every ``(i, j)`` with ``i < j`` inside each graph of a sorted ``batch``."""
    counts = torch.bincount(batch).tolist()
    rows, start = [], 0
    for n in counts:
        if n > 1:
            i, j = torch.triu_indices(n, n, offset=1, device=batch.device)
            rows.append(torch.stack([i, j]) + start)
        start += n
    if not rows:
        return torch.zeros(2, 0, dtype=torch.long, device=batch.device)
    return torch.cat(rows, dim=1)


def pair_values(pairs: Tensor, n_nodes: int, index: Tensor, values: Tensor) -> Tensor:
    """Values of sparse pairs ``index`` [2, K] (either order) on ``pairs`` (0 where absent)."""
    key_pairs = pairs[0] * n_nodes + pairs[1]
    lo, hi = index.min(0).values, index.max(0).values
    key = lo * n_nodes + hi
    out = torch.zeros(pairs.shape[1], dtype=values.dtype, device=values.device)
    if key.numel() == 0:
        return out
    order = torch.argsort(key_pairs)
    pos = torch.searchsorted(key_pairs[order], key)
    if not bool((key_pairs[order][pos.clamp(max=key_pairs.numel() - 1)] == key).all()):
        raise ValueError("a bond joins atoms of different graphs or is a self-loop")
    out[order[pos]] = values
    return out


@dataclass
class MoleculeState:
    """A batch of molecules: ``pos`` [N, 3], ``atom_types`` [N], ``charges`` [N], ``bond_types`` [P]
    over ``pairs`` [2, P], ``batch`` [N] (sorted graph index), ``n_graphs``."""

    pos: Tensor
    atom_types: Tensor
    charges: Tensor
    bond_types: Tensor
    pairs: Tensor
    batch: Tensor
    n_graphs: int

    @property
    def pair_batch(self) -> Tensor:
        return self.batch[self.pairs[0]]

    def replace(self, **changes) -> "MoleculeState":
        return replace(self, **changes)

    def permute(self, perm: Tensor) -> "MoleculeState":
        """The same molecules with atoms reordered (new atom ``k`` is old ``perm[k]``; ``perm``
        must keep each atom in its graph); pairs rebuilt and bonds carried over."""
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(perm.numel(), device=perm.device)
        pairs = all_pairs(self.batch)
        bonds = pair_values(pairs, perm.numel(), inv[self.pairs], self.bond_types)
        return MoleculeState(self.pos[perm], self.atom_types[perm], self.charges[perm], bonds, pairs,
                             self.batch[perm], self.n_graphs)

    def split(self) -> list[dict[str, Tensor]]:
        """Per molecule: ``pos``, ``atom_types``, ``charges`` and ``bonds`` rows ``(i, j, type)``
        with local indices and ``type > 0``."""
        counts = torch.bincount(self.batch, minlength=self.n_graphs).tolist()
        starts = [0]
        for c in counts:
            starts.append(starts[-1] + c)
        pb = self.pair_batch
        out = []
        for g, (lo, hi) in enumerate(zip(starts[:-1], starts[1:])):
            sel = (pb == g) & (self.bond_types > 0)
            bonds = torch.stack([self.pairs[0, sel] - lo, self.pairs[1, sel] - lo, self.bond_types[sel]], dim=1)
            out.append({"pos": self.pos[lo:hi], "atom_types": self.atom_types[lo:hi],
                        "charges": self.charges[lo:hi], "bonds": bonds})
        return out


@dataclass
class FixedMolecule:
    """Atoms (and the bonds among them) held fixed while sampling, over a batch's atoms and pairs:
    ``mask`` [N] and ``bond_mask`` [P] say which; ``pos`` [N, 3], ``atom_types``, ``charges`` [N] and
    ``bond_types`` [P] hold the values (used where masked), in the sampler's frame."""

    mask: Tensor
    pos: Tensor
    atom_types: Tensor
    charges: Tensor
    bond_mask: Tensor
    bond_types: Tensor

    def to(self, device) -> "FixedMolecule":
        return FixedMolecule(*(getattr(self, f.name).to(device) for f in fields(self)))

    def pinner(self, prior: MoleculeState) -> Callable[[MoleculeState, float], MoleculeState]:
        """``pin(state, s)``: ``state`` with the fixed atoms at ``(1 - s) pos + s z`` (``z``: their
        draw in ``prior``, so at ``s = 0`` exactly ``pos``) and the fixed categories set."""
        if self.mask.shape[0] != prior.pos.shape[0] or self.bond_mask.shape[0] != prior.pairs.shape[1]:
            raise ValueError(f"fixed atoms cover {self.mask.shape[0]} atoms / {self.bond_mask.shape[0]} pairs, "
                             f"the batch has {prior.pos.shape[0]} / {prior.pairs.shape[1]}")
        z = prior.pos.clone()
        m, mb = self.mask[:, None], self.bond_mask

        def pin(state: MoleculeState, s: float) -> MoleculeState:
            return state.replace(
                pos=torch.where(m, (1.0 - s) * self.pos + s * z, state.pos),
                atom_types=torch.where(self.mask, self.atom_types, state.atom_types),
                charges=torch.where(self.mask, self.charges, state.charges),
                bond_types=torch.where(mb, self.bond_types, state.bond_types))
        return pin

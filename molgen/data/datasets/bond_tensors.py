"""Many molecules with bonds as a few concatenated tensors (cached once, loaded fast).

Shared by the bond-aware datasets (QM9 with perceived bonds, drug-like SD files): per atom
``pos``, ``atom_types`` (index into the dataset's elements) and formal ``charges``; per bond a row
``(i, j, type)`` with local indices ``i < j``; ``offsets`` / ``bond_offsets`` delimit molecules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from molgen.chem.bond_graph import BOND_TYPES, CHARGES, BondGraph

__all__ = ["BondTensors", "BondTensorSplit", "count_histogram"]


def count_histogram(n_atoms: np.ndarray) -> dict[int, int]:
    """``{n_atoms: n_molecules}``, ascending (generated molecules draw their size from it)."""
    sizes, counts = np.unique(n_atoms, return_counts=True)
    return {int(s): int(c) for s, c in zip(sizes, counts)}


@dataclass
class BondTensors:
    pos: Tensor            # float32 [A, 3]
    atom_types: Tensor     # uint8 [A]
    charges: Tensor        # int8 [A], formal charge
    offsets: Tensor        # int64 [M + 1]
    bonds: Tensor          # int16 [K, 3]
    bond_offsets: Tensor   # int64 [M + 1]

    @classmethod
    def from_graphs(cls, graphs: Sequence[BondGraph], elements: Sequence[str]) -> "BondTensors":
        lookup = {e: i for i, e in enumerate(elements)}
        n_atoms = [len(g.elements) for g in graphs]
        n_bonds = [g.bonds.shape[0] for g in graphs]
        cat = (lambda xs, shape, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(shape, dt))
        return cls(
            pos=torch.from_numpy(cat([g.pos for g in graphs], (0, 3), np.float32)),
            atom_types=torch.from_numpy(cat([[lookup[e] for e in g.elements] for g in graphs], (0,), np.uint8)),
            charges=torch.from_numpy(cat([g.charges for g in graphs], (0,), np.int8)),
            offsets=torch.from_numpy(np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)),
            bonds=torch.from_numpy(cat([g.bonds for g in graphs], (0, 3), np.int16)),
            bond_offsets=torch.from_numpy(np.concatenate([[0], np.cumsum(n_bonds)]).astype(np.int64)),
        )

    def to_dict(self) -> dict[str, Tensor]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, blob: dict) -> "BondTensors":
        return cls(**{k: blob[k] for k in ("pos", "atom_types", "charges", "offsets", "bonds", "bond_offsets")})

    @property
    def n_molecules(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def n_atoms(self) -> np.ndarray:
        return (self.offsets[1:] - self.offsets[:-1]).numpy()

    def item(self, m: int) -> Data:
        """Molecule ``m``: ``pos``, ``atom_types``, ``charges`` (index into CHARGES), ``bond_index``
        [2, K] and ``bond_types`` [K]."""
        lo, hi = int(self.offsets[m]), int(self.offsets[m + 1])
        blo, bhi = int(self.bond_offsets[m]), int(self.bond_offsets[m + 1])
        bonds = self.bonds[blo:bhi].long()
        return Data(pos=self.pos[lo:hi].clone(), atom_types=self.atom_types[lo:hi].long(),
                    charges=self.charges[lo:hi].long() - CHARGES[0], bond_index=bonds[:, :2].T.contiguous(),
                    bond_types=bonds[:, 2].contiguous(), num_nodes=hi - lo)

    def marginals(self, indices: Sequence[int], n_types: int) -> dict[str, list[float]]:
        """Frequencies of atom types, charges and bond types (over all atom pairs) of molecules ``indices``."""
        t, q, b = np.zeros(n_types), np.zeros(len(CHARGES)), np.zeros(len(BOND_TYPES))
        n_pairs = 0
        for m in indices:
            lo, hi = int(self.offsets[m]), int(self.offsets[m + 1])
            t += np.bincount(self.atom_types[lo:hi].numpy().astype(np.int64), minlength=n_types)
            q += np.bincount(self.charges[lo:hi].numpy().astype(np.int64) - CHARGES[0], minlength=len(CHARGES))
            blo, bhi = int(self.bond_offsets[m]), int(self.bond_offsets[m + 1])
            b += np.bincount(self.bonds[blo:bhi, 2].numpy().astype(np.int64), minlength=len(BOND_TYPES))
            n_pairs += (hi - lo) * (hi - lo - 1) // 2
        b[0] = n_pairs - b[1:].sum()
        return {"atom_types": (t / max(t.sum(), 1)).tolist(), "charges": (q / max(q.sum(), 1)).tolist(),
                "bond_types": (b / max(b.sum(), 1)).tolist()}


class BondTensorSplit(torch.utils.data.Dataset):
    """A split of a :class:`BondTensors`: subclasses set ``tensors``, ``indices`` (molecules of the
    split), ``elements`` and ``transform``."""

    tensors: BondTensors
    indices: np.ndarray
    elements: tuple[str, ...]
    transform = None

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, i: int) -> Data:
        data = self.tensors.item(int(self.indices[i]))
        return self.transform(data) if self.transform is not None else data

    @property
    def n_atoms(self) -> np.ndarray:
        """``int64 [len(self)]`` atom counts of this split's molecules."""
        return self.tensors.n_atoms[self.indices]

    def atom_count_histogram(self) -> dict[int, int]:
        return count_histogram(self.n_atoms)

    def marginals(self) -> dict[str, list[float]]:
        """Frequencies of atom types, charges and bond types (over all atom pairs) in this split."""
        return self.tensors.marginals(self.indices.tolist(), len(self.elements))

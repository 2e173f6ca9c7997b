"""Repair a predicted bond graph whose atoms exceed their valence, or whose pieces should touch.

A bond-aware model predicts a bond type for every atom pair; an under-trained one gives some atoms
one bond too many (five-valent carbon, four-valent neutral nitrogen) and leaves pieces of a molecule
unbonded though their atoms sit at bonding distance. :func:`repair_valence` edits the graph the
least it can, using the generated coordinates to decide *which* bond is wrong:

1. **Over-valent atoms.** While some atom's bond orders sum to more than its element and formal
   charge allow (:func:`max_valence`: C 4, N 3 / N+ 4, O 2 / O- 1, halogens 1, S 6, P 5, ...), take
   the atom with the largest excess and lower the order of one of its bonds by one (double ->
   single, single -> none). The bond chosen is, in this order of preference: one whose removal
   keeps the molecule in one piece (a multiple bond, or a single bond in a ring), one whose other
   atom is over-valent too, and the one longest against its order's ideal length (sum of covalent
   radii, 0.10 A shorter per extra order) -- the bond the geometry supports least.
2. **Pieces at bonding distance.** While the graph has more than one piece, join the closest pair
   of atoms from two different pieces with a single bond, if both atoms have a free valence and
   their distance is within ``bond_factor`` x the sum of their covalent radii (RDKit's connectivity
   rule, factor 1.3 as in :mod:`molgen.chem.reconstruct`). Pieces farther apart stay apart.

Nothing else changes: elements, charges and coordinates are the model's. The returned
:class:`RepairLog` counts the edits, so every molecule that needed one can be reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from molgen.chem.bond_graph import BOND_ORDERS, BondGraph, allowed_valences

__all__ = ["RepairLog", "max_valence", "repair_valence"]

_PT = Chem.GetPeriodicTable()


def max_valence(element: str, charge: int) -> int:
    """The largest total bond order an atom may carry: the largest of
    :func:`~molgen.chem.bond_graph.allowed_valences`, else RDKit's largest valence of the element
    less the charge's size."""
    allowed = allowed_valences(element, int(charge))
    if allowed:
        return max(allowed)
    valences = [v for v in _PT.GetValenceList(element) if v >= 0]
    return max(max(valences, default=0) - abs(int(charge)), 0)


@dataclass
class RepairLog:
    """Edits made to one graph: bond orders lowered, bonds removed, bonds added between pieces."""

    lowered: int = 0
    removed: int = 0
    joined: int = 0

    @property
    def n_edits(self) -> int:
        return self.lowered + self.removed + self.joined


def _pieces(n: int, bonds: dict[tuple[int, int], int]) -> np.ndarray:
    """Connected-component label of every atom."""
    label = np.arange(n)

    def find(a: int) -> int:
        while label[a] != a:
            label[a] = label[label[a]]
            a = int(label[a])
        return a

    for i, j in bonds:
        ri, rj = find(i), find(j)
        if ri != rj:
            label[max(ri, rj)] = min(ri, rj)
    return np.array([find(a) for a in range(n)])


def _keeps_connected(n: int, bonds: dict[tuple[int, int], int], edge: tuple[int, int]) -> bool:
    rest = {k: v for k, v in bonds.items() if k != edge}
    lab = _pieces(n, rest)
    return bool(lab[edge[0]] == lab[edge[1]])


def repair_valence(graph: BondGraph, *, bond_factor: float = 1.3) -> tuple[BondGraph, RepairLog]:
    """The repaired graph (a new object) and what was changed; see the module docstring."""
    n = len(graph.elements)
    log = RepairLog()
    bonds = {(int(i), int(j)): int(b) for i, j, b in graph.bonds.tolist()}
    pos = np.asarray(graph.pos, dtype=np.float64)
    radius = np.array([_PT.GetRcovalent(e) for e in graph.elements])
    cap = np.array([max_valence(e, q) for e, q in zip(graph.elements, graph.charges.tolist())], dtype=float)

    def valence() -> np.ndarray:
        v = np.zeros(n)
        for (i, j), b in bonds.items():
            v[i] += BOND_ORDERS[b]
            v[j] += BOND_ORDERS[b]
        return v

    def stretch(i: int, j: int, b: int) -> float:
        ideal = radius[i] + radius[j] - 0.10 * (BOND_ORDERS[b] - 1.0)
        return float(np.linalg.norm(pos[i] - pos[j]) - ideal)

    while True:
        excess = valence() - cap
        atom = int(np.argmax(excess))
        if excess[atom] <= 1e-6:
            break
        choices = []
        for (i, j), b in bonds.items():
            if atom not in (i, j):
                continue
            other = j if i == atom else i
            safe = b != 1 or _keeps_connected(n, bonds, (i, j))
            choices.append(((not safe, not excess[other] > 1e-6, -stretch(i, j, b)), (i, j)))
        edge = min(choices)[1]
        b = bonds[edge]
        if b in (2, 3):
            bonds[edge] = b - 1
            log.lowered += 1
        else:  # single or aromatic: the bond goes
            del bonds[edge]
            log.removed += 1

    while True:
        lab = _pieces(n, bonds)
        if len(set(lab.tolist())) <= 1:
            break
        free = valence() < cap - 1e-6
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) / (radius[:, None] + radius[None])
        ok = (lab[:, None] != lab[None]) & free[:, None] & free[None] & (d <= bond_factor)
        if not ok.any():
            break
        i, j = np.unravel_index(np.argmin(np.where(ok, d, np.inf)), d.shape)
        bonds[(int(min(i, j)), int(max(i, j)))] = 1
        log.joined += 1

    rows = np.array(sorted((i, j, b) for (i, j), b in bonds.items()), dtype=np.int64).reshape(-1, 3)
    return BondGraph(list(graph.elements), graph.charges.copy(), rows, graph.pos.copy(), graph.implicit_hs), log

"""Molecules as bond graphs: atoms with formal charges, a bond type for every atom pair, coordinates.

The bond-aware models generate this representation directly; it is built from and turned into RDKit
molecules here (no torch: numpy in, numpy out).

- ``BOND_TYPES``: index 0 is "no bond", then single, double, triple, aromatic. Training data is
  kekulized, so aromatic bonds appear only when a source insists on them.
- ``CHARGES``: formal charges -1, 0, +1 (index = charge + 1).

:func:`perceive_bonds` gives a molecule with coordinates only (QM9's XYZ files) its bonds and
charges with RDKit's ``rdDetermineBonds`` (connectivity from covalent radii, then bond orders and
charges for a neutral molecule); :func:`mol_from_graph` rebuilds and sanitizes an RDKit molecule
from predicted atoms, charges and bonds; :func:`graph_from_mol` is its inverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds

__all__ = [
    "BOND_TYPES",
    "BOND_ORDERS",
    "CHARGES",
    "BondGraph",
    "allowed_valences",
    "graph_from_mol",
    "mol_from_graph",
    "perceive_bonds",
]

BOND_TYPES: tuple[str, ...] = ("none", "single", "double", "triple", "aromatic")
#: Bond order of each ``BOND_TYPES`` index (aromatic counts 1.5 towards valence).
BOND_ORDERS: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 1.5)
CHARGES: tuple[int, ...] = (-1, 0, 1)

_NEUTRAL = {"H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Si": (4,), "P": (3, 5),
            "S": (2, 4, 6), "Cl": (1,), "Br": (1,), "I": (1,)}


def allowed_valences(element: str, charge: int) -> tuple[int, ...]:
    """Bond-order sums allowed for ``element`` at formal ``charge``: a cation of N, O, P, S gains a
    bond per charge (NH4+, H3O+), an anion loses one; C loses one either way; others must be neutral."""
    base = _NEUTRAL.get(element, ())
    if charge == 0:
        return base
    if element in ("N", "O", "P", "S"):
        return tuple(v + charge for v in base if v + charge >= 0)
    if element == "C":
        return tuple(v - abs(charge) for v in base)
    return ()


_RDKIT_BOND = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE,
               4: Chem.BondType.AROMATIC}
_BOND_INDEX = {v: k for k, v in _RDKIT_BOND.items()}


@dataclass
class BondGraph:
    """One molecule: ``elements`` [N] symbols, ``charges`` int [N] (formal), ``bonds`` int [K, 3]
    rows ``(i, j, type)`` with ``i < j`` and ``type`` an index into ``BOND_TYPES`` (> 0), ``pos``
    float [N, 3] (Angstrom). ``implicit_hs``: hydrogens are not in the graph (heavy-atom ligands)
    and RDKit completes each atom's valence with them; else every hydrogen is an atom (QM9)."""

    elements: list[str]
    charges: np.ndarray
    bonds: np.ndarray
    pos: np.ndarray
    implicit_hs: bool = False

    def __post_init__(self) -> None:
        self.charges = np.asarray(self.charges, dtype=np.int64).reshape(-1)
        self.bonds = np.asarray(self.bonds, dtype=np.int64).reshape(-1, 3)
        self.pos = np.asarray(self.pos, dtype=np.float32).reshape(-1, 3)
        n = len(self.elements)
        if self.charges.shape[0] != n or self.pos.shape[0] != n:
            raise ValueError(f"{n} elements but {self.charges.shape[0]} charges and {self.pos.shape[0]} positions")
        if self.bonds.size and (self.bonds[:, 0] >= self.bonds[:, 1]).any():
            raise ValueError("bond rows must have i < j")

    def bond_matrix(self) -> np.ndarray:
        """``int [N, N]`` symmetric bond-type indices (0: no bond)."""
        n = len(self.elements)
        m = np.zeros((n, n), dtype=np.int64)
        if self.bonds.size:
            i, j, b = self.bonds.T
            m[i, j] = m[j, i] = b
        return m


def graph_from_mol(mol: Chem.Mol, conf_id: int = -1) -> BondGraph:
    """The bond graph of an RDKit molecule with a conformer (kekulized: no aromatic bonds);
    ``implicit_hs`` when some atom carries implicit hydrogens."""
    mol = Chem.Mol(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    bonds = []
    for b in mol.GetBonds():
        i, j = sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
        if b.GetBondType() not in _BOND_INDEX:
            raise ValueError(f"bond {i}-{j} has type {b.GetBondType()}, outside {BOND_TYPES[1:]}")
        bonds.append((i, j, _BOND_INDEX[b.GetBondType()]))
    return BondGraph(
        elements=[a.GetSymbol() for a in mol.GetAtoms()],
        charges=np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.int64),
        bonds=np.array(sorted(bonds), dtype=np.int64).reshape(-1, 3),
        pos=mol.GetConformer(conf_id).GetPositions(),
        implicit_hs=any(a.GetNumImplicitHs() > 0 for a in mol.GetAtoms()),
    )


def mol_from_graph(graph: BondGraph, *, sanitize: bool = True) -> tuple[Chem.Mol, str | None]:
    """``(mol, error)``: the RDKit molecule of ``graph`` with its coordinates. With ``sanitize`` a
    molecule RDKit refuses is returned unsanitized together with RDKit's reason."""
    rw = Chem.RWMol()
    for el, q in zip(graph.elements, graph.charges.tolist()):
        atom = Chem.Atom(el)
        atom.SetFormalCharge(int(q))
        atom.SetNoImplicit(not graph.implicit_hs)  # explicit: hydrogens are what the graph says
        rw.AddAtom(atom)
    for i, j, b in graph.bonds.tolist():
        rw.AddBond(int(i), int(j), _RDKIT_BOND[int(b)])
        if b == 4:
            rw.GetBondBetweenAtoms(int(i), int(j)).SetIsAromatic(True)
            rw.GetAtomWithIdx(int(i)).SetIsAromatic(True)
            rw.GetAtomWithIdx(int(j)).SetIsAromatic(True)
    conf = Chem.Conformer(len(graph.elements))
    for k, xyz in enumerate(graph.pos.astype(np.float64)):
        conf.SetAtomPosition(k, xyz.tolist())
    rw.AddConformer(conf, assignId=True)
    mol = rw.GetMol()
    if not sanitize:
        return mol, None
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several exception types: keep its message
        return mol, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mol, None


def perceive_bonds(pos: np.ndarray, elements: Sequence[str], charge: int = 0) -> BondGraph | None:
    """Bonds and formal charges of a molecule given by coordinates (RDKit ``DetermineBonds``:
    covalent-radius connectivity, then bond orders for total charge ``charge``), kekulized.
    ``None`` when RDKit finds no consistent assignment (the caller counts and drops those)."""
    pos = np.asarray(pos, dtype=np.float64)
    block = f"{len(elements)}\n\n" + "\n".join(
        f"{e} {x:.6f} {y:.6f} {z:.6f}" for e, (x, y, z) in zip(elements, pos))
    mol = Chem.MolFromXYZBlock(block)
    if mol is None:
        return None
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=charge)
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit's ValueError / MolSanitizeException: no assignment found
        return None
    return graph_from_mol(mol)

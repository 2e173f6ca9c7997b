"""Plain typed records handed from the parsers to featurization (numpy only, no torch).

A :class:`ProteinRecord` holds one row per heavy atom of a protein; a :class:`PocketRecord` is the
same thing restricted to the residues of a binding pocket; a :class:`LigandRecord` holds the heavy
atoms of one small molecule (and its RDKit molecule where bond orders are known).

Coordinates are Angstrom, ``float32 [N, 3]``. String columns are numpy unicode arrays. Elements are
capitalised the usual way (``C``, ``Cl``, ``Se``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from rdkit import Chem

__all__ = ["BACKBONE_ATOM_NAMES", "LigandRecord", "PocketRecord", "ProteinRecord", "residue_key"]

#: Atom names that make up the protein backbone (the ``is_backbone`` flag of pocket features).
BACKBONE_ATOM_NAMES: tuple[str, ...] = ("N", "CA", "C", "O")

_STRING_FIELDS = ("element", "atom_name", "res_name", "chain", "icode")


def residue_key(chain: str, res_seq: int, icode: str = "") -> str:
    """The residue id used everywhere in molgen: ``"A:45"``, or ``"A:52A"`` with an insertion code."""
    return f"{chain}:{int(res_seq)}{icode.strip()}"


def _as_str_array(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=str)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class ProteinRecord:
    """Heavy atoms of a protein (one row per atom, in file order).

    Attributes:
        pos: ``float32 [N, 3]`` coordinates in Angstrom.
        element: ``[N]`` element symbols (``C``, ``N``, ``O``, ``S``, ``Se``...).
        atom_name: ``[N]`` PDB atom names (``CA``, ``OG1``...).
        res_name: ``[N]`` residue names (``ALA``...; selenomethionine is read as ``MET``).
        chain: ``[N]`` author chain ids.
        res_seq: ``int64 [N]`` author residue numbers.
        icode: ``[N]`` insertion codes (``""`` when none).
        path: the file the atoms were read from (used in error messages).
    """

    pos: np.ndarray
    element: np.ndarray
    atom_name: np.ndarray
    res_name: np.ndarray
    chain: np.ndarray
    res_seq: np.ndarray
    icode: np.ndarray
    path: str = ""

    def __post_init__(self) -> None:
        pos = np.asarray(self.pos, dtype=np.float32).reshape(-1, 3)
        n = pos.shape[0]
        object.__setattr__(self, "pos", pos)
        for name in _STRING_FIELDS:
            object.__setattr__(self, name, _as_str_array(getattr(self, name), n, name))
        res_seq = np.asarray(self.res_seq, dtype=np.int64)
        if res_seq.shape != (n,):
            raise ValueError(f"res_seq must have shape ({n},), got {res_seq.shape}")
        object.__setattr__(self, "res_seq", res_seq)
        object.__setattr__(self, "path", str(self.path))

    @property
    def n_atoms(self) -> int:
        """Number of (heavy) atoms."""
        return int(self.pos.shape[0])

    @property
    def is_backbone(self) -> np.ndarray:
        """``bool [N]``: the atom is one of the backbone atoms N, CA, C, O."""
        return np.isin(self.atom_name, BACKBONE_ATOM_NAMES)

    def residue_keys(self) -> np.ndarray:
        """Per-atom residue ids ``"A:45"`` / ``"A:52A"`` (``[N]`` strings)."""
        return np.asarray(
            [residue_key(c, r, i) for c, r, i in zip(self.chain, self.res_seq, self.icode)], dtype=str
        )

    def residue_index(self) -> np.ndarray:
        """``int64 [N]``: index of each atom's residue, 0..n_residues-1 in order of appearance."""
        if self.n_atoms == 0:
            return np.zeros(0, dtype=np.int64)
        _, first, inverse = np.unique(self.residue_keys(), return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))  # unique keys renumbered by first appearance
        return rank[inverse.reshape(-1)].astype(np.int64)

    @property
    def n_residues(self) -> int:
        """Number of distinct residues."""
        return int(len(np.unique(self.residue_keys()))) if self.n_atoms else 0

    def select(self, mask: np.ndarray) -> ProteinRecord:
        """A record of the same type with only the atoms where ``mask`` is true (or at indices)."""
        mask = np.asarray(mask)
        fields = {name: getattr(self, name)[mask] for name in ("pos", *_STRING_FIELDS, "res_seq")}
        return dataclasses.replace(self, **fields)

    def chain_summary(self) -> str:
        """Human-readable list of chains with their residue ranges, for error messages."""
        if self.n_atoms == 0:
            return "no residues"
        parts = []
        for chain in dict.fromkeys(self.chain.tolist()):
            seqs = self.res_seq[self.chain == chain]
            n_res = len(np.unique(self.residue_keys()[self.chain == chain]))
            parts.append(f"{chain or '(blank)'} ({seqs.min()}-{seqs.max()}, {n_res} residues)")
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class PocketRecord(ProteinRecord):
    """A :class:`ProteinRecord` restricted to the whole residues of a binding pocket.

    Attributes:
        definition: how the pocket was chosen, for logs (``"ref_ligand lig.sdf, cutoff 10.0 A"``).
    """

    definition: str = ""


@dataclass(frozen=True, eq=False)
class LigandRecord:
    """Atoms of one small molecule.

    Attributes:
        pos: ``float32 [N, 3]`` coordinates in Angstrom.
        element: ``[N]`` element symbols.
        name: a readable id (SDF title, or ``"ZRY A:404"`` for a HETATM group).
        path: the file it was read from ("" if built in memory).
        mol: the RDKit molecule with bond orders when known (SDF input), else ``None``
            (HETATM groups read from PDB/mmCIF carry no bond orders).
    """

    pos: np.ndarray
    element: np.ndarray
    name: str = ""
    path: str = ""
    mol: Chem.Mol | None = None

    def __post_init__(self) -> None:
        pos = np.asarray(self.pos, dtype=np.float32).reshape(-1, 3)
        object.__setattr__(self, "pos", pos)
        object.__setattr__(self, "element", _as_str_array(self.element, pos.shape[0], "element"))

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.pos.shape[0])

    @property
    def source(self) -> str:
        """``path`` if known, else ``name``: what error messages call this ligand."""
        return self.path or self.name or "<ligand>"

    def heavy_atoms(self) -> LigandRecord:
        """The same ligand without hydrogen atoms (``mol`` is kept as is)."""
        keep = ~np.isin(self.element, ("H", "D"))
        return dataclasses.replace(self, pos=self.pos[keep], element=self.element[keep])

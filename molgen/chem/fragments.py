"""Fragments for fixed-atom generation: cut atoms out of a reference ligand, keeping 3D."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem

from molgen.errors import MolgenInputError

__all__ = ["fragment_from_atoms"]


def fragment_from_atoms(mol: Chem.Mol, atoms: Sequence[int], *, source: str = "ligand") -> Chem.Mol:
    """The sub-molecule of ``mol`` made of heavy atoms ``atoms`` (0-based), with its coordinates.

    Bonds between kept atoms are kept; the result may be several pieces (linker design).
    """
    heavy = Chem.RemoveHs(mol)
    n = heavy.GetNumAtoms()
    keep = sorted({int(i) for i in atoms})
    if not keep:
        raise MolgenInputError(f"{source}: fix_atoms is empty")
    bad = [i for i in keep if i < 0 or i >= n]
    if bad:
        raise MolgenInputError(f"{source}: fix_atoms {bad} out of range: the ligand has {n} heavy atoms (0..{n - 1})")
    if len(keep) == n:
        raise MolgenInputError(f"{source}: fix_atoms keeps all {n} atoms: nothing is left to generate")
    rw = Chem.RWMol(heavy)
    for i in sorted(set(range(n)) - set(keep), reverse=True):
        rw.RemoveAtom(i)
    frag = rw.GetMol()
    for atom in frag.GetAtoms():
        atom.SetNoImplicit(False)
    frag.UpdatePropertyCache(strict=False)
    return frag

"""A ligand of a PDB file as an RDKit molecule with bond orders from the Chemical Component Dictionary.

PDB HETATM records carry elements and coordinates but no bond orders. The CCD entry of the
ligand's residue name has them (aromatic bonds and formal charges included); biotite ships the
CCD (``biotite.structure.info.residue``). :func:`read_ccd_ligand` takes the heavy atoms of the
first copy of the residue in the file (per atom name the first alternate location), matches them
to the CCD entry by atom name and returns the CCD molecule with the file's coordinates, hydrogens
implicit. CCD atoms the file lacks (a leaving group, a disordered tail) are left out; when that
leaves a molecule RDKit cannot sanitise, it is an error. No torch here.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from rdkit import Chem

from molgen.errors import MolgenInputError

__all__ = ["hetero_atoms", "read_ccd_ligand"]


def _lines(path: Path) -> list[str]:
    try:
        raw = gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)
        with raw as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MolgenInputError(f"{path}: cannot read the structure ({exc})") from exc


def hetero_atoms(path: str | os.PathLike[str], res_name: str) -> dict[str, tuple[str, np.ndarray]]:
    """``atom name -> (element, xyz)`` of the first copy of HETATM group ``res_name`` in a PDB file
    (plain or .gz), first alternate location per atom name.

    Raises:
        MolgenInputError: unreadable file, no such group.
    """
    path = Path(path)
    atoms: dict[str, tuple[str, np.ndarray]] = {}
    first = None
    for line in _lines(path):
        if not line.startswith("HETATM") or line[17:20].strip() != res_name:
            continue
        key = (line[21], line[22:27])
        first = first or key
        name = line[12:16].strip()
        if key != first or name in atoms:
            continue
        element = line[76:78].strip() or name[:1]
        atoms[name] = (element.capitalize(), np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]))
    if not atoms:
        raise MolgenInputError(f"{path}: no HETATM group named {res_name!r}")
    return atoms


def read_ccd_ligand(path: str | os.PathLike[str], res_name: str) -> Chem.Mol:
    """Heavy-atom RDKit molecule of ligand ``res_name`` of a PDB file, bond orders and charges from
    the CCD, coordinates (Angstrom) from the file; ``_Name`` is ``res_name``.

    Raises:
        MolgenInputError: unreadable file, ligand not in the file, unknown CCD code (or biotite
            missing), no atom names matching, a molecule RDKit cannot sanitise.
    """
    path = Path(path)
    found = hetero_atoms(path, res_name)
    try:
        import biotite.interface.rdkit as biotite_rdkit
        import biotite.structure.info as info
    except ImportError as exc:
        raise MolgenInputError("bond orders of PDB ligands come from the CCD that biotite ships: "
                               "pip install biotite (the eval extra)") from exc
    try:
        entry = info.residue(res_name, allow_missing_coord=True)
    except (KeyError, ValueError) as exc:
        raise MolgenInputError(f"{path}: {res_name!r} is not in the Chemical Component Dictionary") from exc
    is_h = entry.element == "H"
    present = np.array([h or name in found for name, h in zip(entry.atom_name, is_h)], dtype=bool)
    if not (present & ~is_h).any():
        raise MolgenInputError(f"{path}: no atom of {res_name} matches its CCD atom names")
    # hydrogens of the CCD entry stay while the bond orders are read (an aromatic [nH] needs its H
    # to be kekulised), those of missing heavy atoms go; they are removed at the end
    bonds = entry.bonds.as_array()
    for i, j in bonds[:, :2]:
        if is_h[i] and not present[j] and not is_h[j]:
            present[i] = False
        if is_h[j] and not present[i] and not is_h[i]:
            present[j] = False
    index = np.flatnonzero(present)
    subset = entry[index]
    coord = np.zeros((len(index), 3), dtype=np.float32)
    for k, name in enumerate(subset.atom_name):
        if name in found:
            coord[k] = found[name][1]
    subset.coord = coord
    missing = int((~present & ~is_h).sum())
    try:
        mol = biotite_rdkit.to_mol(subset, explicit_hydrogen=True)
        Chem.SanitizeMol(mol)
        heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        positions = mol.GetConformer().GetPositions()
        mol = Chem.RemoveHs(mol)
    except Exception as exc:  # RDKit's sanitisation errors, biotite's conversion errors
        raise MolgenInputError(f"{path}: {res_name} with CCD bond orders does not sanitise "
                               f"({missing} CCD heavy atoms missing from the file; {exc})") from exc
    if mol.GetNumAtoms() != len(heavy):
        raise MolgenInputError(f"{path}: {res_name}: hydrogens could not be removed cleanly")
    conf = mol.GetConformer()
    for k, idx in enumerate(heavy):  # RemoveHs keeps the heavy atoms in order
        conf.SetAtomPosition(k, positions[idx].tolist())
    mol = Chem.Mol(mol)
    mol.SetProp("_Name", res_name)
    return mol

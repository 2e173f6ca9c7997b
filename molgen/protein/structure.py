"""Backbones -> Biopython structures -> PDB / mmCIF files (written atomically).

What is written, per residue: ``N, CA, C, O`` and, for every residue type except glycine, an
ideal ``CB`` (:func:`molgen.protein.geometry.ideal_cb`); no other side-chain atoms.

Residue names: ``sequence=None`` writes poly-glycine; a one-letter string of length 1 (``"A"``)
writes that residue everywhere (``"A"`` = poly-alanine, with CB); a string of length L (one-letter)
or a list of L three-letter names gives each residue its own name, which is how motif residues keep
their identity (:meth:`molgen.protein.contig.ContigLayout.sequence` builds such a string).

Motif marking: with ``motif_mask`` the B-factor column holds ``1.0`` for motif (fixed) residues
and ``0.0`` for generated ones; without a mask every B-factor is ``0.0``. Occupancy is ``1.0``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path
from molgen.io.chains import BACKBONE_ATOMS, ONE_TO_THREE, THREE_TO_ONE
from molgen.protein.geometry import ideal_cb

__all__ = [
    "MOTIF_BFACTOR",
    "SCAFFOLD_BFACTOR",
    "backbone_to_structure",
    "write_mmcif",
    "write_pdb",
]

MOTIF_BFACTOR = 1.0
SCAFFOLD_BFACTOR = 0.0


def _residue_names(sequence: str | Sequence[str] | None, length: int) -> list[str]:
    if sequence is None:
        return ["GLY"] * length
    if isinstance(sequence, str) and len(sequence) == 1:
        sequence = sequence * length
    if len(sequence) != length:
        raise MolgenInputError(f"sequence has {len(sequence)} residues, backbone has {length}")
    names = []
    for s in sequence:
        name = ONE_TO_THREE.get(s.upper()) if len(s) == 1 else s.upper()
        if name is None or name not in THREE_TO_ONE:
            raise MolgenInputError(f"sequence: unknown residue {s!r}")
        names.append(name)
    return names


def _residue_ids(residue_numbers: Sequence[int | str] | None, length: int) -> list[tuple[str, int, str]]:
    if residue_numbers is None:
        return [(" ", i + 1, " ") for i in range(length)]
    if len(residue_numbers) != length:
        raise MolgenInputError(f"residue_numbers has {len(residue_numbers)} entries, backbone has {length}")
    ids = []
    for r in residue_numbers:
        m = re.fullmatch(r"\s*(-?\d+)([A-Za-z]?)\s*", str(r))
        if m is None:
            raise MolgenInputError(f"residue_numbers: cannot read {r!r} (expected 52 or '52A')")
        ids.append((" ", int(m.group(1)), m.group(2) or " "))
    if len(set(ids)) != len(ids):
        raise MolgenInputError("residue_numbers: duplicate residue numbers")
    return ids


def backbone_to_structure(
    backbone: np.ndarray | torch.Tensor,
    *,
    sequence: str | Sequence[str] | None = None,
    motif_mask: np.ndarray | torch.Tensor | Sequence[bool] | None = None,
    chain_id: str = "A",
    residue_numbers: Sequence[int | str] | None = None,
    structure_id: str = "molgen",
):
    """Build a ``Bio.PDB.Structure`` (one model, one chain) from a backbone ``[L, 4, 3]`` (A).

    Args:
        backbone: N, CA, C, O coordinates in Angstrom; must be finite.
        sequence: None (poly-GLY), one letter (poly-X), or L residues (see module docstring).
        motif_mask: ``bool [L]``; motif residues get B-factor 1.0, the rest 0.0.
        chain_id: chain identifier (one character for PDB output).
        residue_numbers: L author numbers (``45`` or ``"52A"``), default 1..L.
        structure_id: the structure's id (mmCIF data block name).
    """
    from Bio.PDB.Atom import Atom
    from Bio.PDB.Chain import Chain
    from Bio.PDB.Model import Model
    from Bio.PDB.Residue import Residue
    from Bio.PDB.Structure import Structure

    if torch.is_tensor(backbone):
        bb = backbone.detach().cpu().to(torch.float64)
    else:
        bb = torch.as_tensor(np.asarray(backbone, dtype=np.float64))
    if bb.ndim != 3 or bb.shape[1:] != (4, 3):
        raise MolgenInputError(f"backbone must be [L, 4, 3], got {tuple(bb.shape)}")
    if not torch.isfinite(bb).all():
        raise MolgenInputError("backbone has non-finite coordinates")
    length = bb.shape[0]
    names = _residue_names(sequence, length)
    ids = _residue_ids(residue_numbers, length)
    if motif_mask is None:
        mask = np.zeros(length, dtype=bool)
    else:
        mask = np.asarray(torch.as_tensor(motif_mask).cpu(), dtype=bool)
        if mask.shape != (length,):
            raise MolgenInputError(f"motif_mask must be [{length}], got {mask.shape}")
    cb = ideal_cb(bb).numpy()
    coords = bb.numpy()

    structure = Structure(structure_id)
    model = Model(0)
    chain = Chain(chain_id)
    structure.add(model)
    model.add(chain)
    serial = 1
    for i in range(length):
        res = Residue(ids[i], names[i], "    ")
        bfac = MOTIF_BFACTOR if mask[i] else SCAFFOLD_BFACTOR
        atoms = list(zip(BACKBONE_ATOMS, coords[i]))
        if names[i] != "GLY":
            atoms.append(("CB", cb[i]))
        for atom_name, xyz in atoms:
            fullname = f" {atom_name:<3}" if len(atom_name) < 4 else atom_name
            res.add(
                Atom(
                    atom_name,
                    np.asarray(xyz, dtype=np.float32),
                    bfac,
                    1.0,
                    " ",
                    fullname,
                    serial,
                    element=atom_name[0],
                )
            )
            serial += 1
        chain.add(res)
    return structure


def _atomic_write(path: str | Path, write) -> Path:
    with atomic_path(path) as tmp:
        write(str(tmp))
    return Path(path)


def _as_structure(structure_or_backbone, kwargs):
    if hasattr(structure_or_backbone, "get_models"):
        if kwargs:
            raise TypeError(f"keyword arguments {sorted(kwargs)} only apply to a backbone array")
        return structure_or_backbone
    return backbone_to_structure(structure_or_backbone, **kwargs)


def write_pdb(structure_or_backbone, path: str | Path, **kwargs) -> Path:
    """Write a ``Bio.PDB.Structure`` or a backbone ``[L, 4, 3]`` (with
    :func:`backbone_to_structure` keyword arguments) to a PDB file, atomically."""
    from Bio.PDB import PDBIO

    structure = _as_structure(structure_or_backbone, kwargs)
    io = PDBIO()
    io.set_structure(structure)
    return _atomic_write(path, io.save)


def write_mmcif(structure_or_backbone, path: str | Path, **kwargs) -> Path:
    """Write a ``Bio.PDB.Structure`` or a backbone ``[L, 4, 3]`` to an mmCIF file, atomically."""
    from Bio.PDB import MMCIFIO

    structure = _as_structure(structure_or_backbone, kwargs)
    io = MMCIFIO()
    io.set_structure(structure)
    return _atomic_write(path, io.save)

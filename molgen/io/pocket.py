"""Cut a binding pocket out of a protein, defined one of three ways.

- **reference ligand**: whole residues with any heavy atom within ``cutoff`` (default 10 A) of any
  ligand heavy atom;
- **residue list**: ``"A:45,A:46,B:12"`` (or a list of such ids; insertion codes as ``"A:52A"``);
  every listed residue must exist;
- **box**: whole residues with any atom inside the axis-aligned box of edge ``box_size`` A (one
  number for a cube, or three) centred on ``box_center``.

Exactly one definition must be given. An empty selection is an error whose message lists what
the receptor holds (chains and residue ranges, nearest distance to the ligand, bounding box).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molgen.errors import MolgenInputError
from molgen.io.records import PocketRecord, ProteinRecord, residue_key
from molgen.io.sdf import read_ligands
from molgen.io.structure import read_protein

__all__ = ["DEFAULT_POCKET_CUTOFF", "parse_residue_spec", "read_pocket", "select_pocket"]

#: Default distance (Angstrom) from the reference ligand that puts a residue in the pocket.
DEFAULT_POCKET_CUTOFF: float = 10.0

_RESIDUE_RE = re.compile(r"^\s*([A-Za-z0-9]*)\s*:\s*(-?\d+)\s*([A-Za-z]?)\s*$")


def parse_residue_spec(residues: str | Sequence[str]) -> list[str]:
    """Normalise ``"A:45, A:46,B:12"`` or ``["A:45", "A:52A"]`` to residue keys (``"A:52A"``).

    Raises:
        MolgenInputError: an item is not ``CHAIN:NUMBER[INSERTION]`` or the list is empty.
    """
    items = residues.split(",") if isinstance(residues, str) else list(residues)
    keys = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        match = _RESIDUE_RE.match(text)
        if match is None:
            raise MolgenInputError(
                f"residues: cannot read {text!r}; expected CHAIN:NUMBER with an optional insertion "
                "code, e.g. 'A:45,A:46,B:52A'"
            )
        chain, seq, icode = match.groups()
        keys.append(residue_key(chain, int(seq), icode.upper()))
    if not keys:
        raise MolgenInputError("residues: empty residue list; expected e.g. 'A:45,A:46,B:12'")
    return list(dict.fromkeys(keys))


def _min_distances(points: np.ndarray, ref: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """For each point, the distance to the nearest reference point (brute force, chunked)."""
    out = np.empty(len(points), dtype=np.float32)
    ref = ref.astype(np.float32)
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk].astype(np.float32)
        d2 = ((block[:, None, :] - ref[None, :, :]) ** 2).sum(-1)
        out[start : start + chunk] = np.sqrt(d2.min(axis=1))
    return out


def _whole_residues(protein: ProteinRecord, atom_mask: np.ndarray) -> np.ndarray:
    res_index = protein.residue_index()
    selected = np.unique(res_index[atom_mask])
    return np.isin(res_index, selected)


def _by_ligand(protein: ProteinRecord, ligand_pos: np.ndarray, cutoff: float) -> np.ndarray:
    ligand_pos = np.asarray(ligand_pos, dtype=np.float32).reshape(-1, 3)
    if len(ligand_pos) == 0:
        raise MolgenInputError(f"{protein.path}: the reference ligand has no atoms")
    if cutoff <= 0:
        raise MolgenInputError(f"pocket cutoff must be positive, got {cutoff}")
    dist = _min_distances(protein.pos, ligand_pos)
    mask = _whole_residues(protein, dist <= cutoff)
    if not mask.any():
        centre = ", ".join(f"{v:.1f}" for v in ligand_pos.mean(0))
        raise MolgenInputError(
            f"{protein.path}: no protein atom within {cutoff:g} A of the reference ligand (ligand "
            f"centre [{centre}]; nearest protein atom {dist.min():.1f} A away). Is the ligand in "
            f"the receptor's frame? Chains available: {protein.chain_summary()}"
        )
    return mask


def _by_residues(protein: ProteinRecord, residues: str | Sequence[str]) -> np.ndarray:
    wanted = parse_residue_spec(residues)
    keys = protein.residue_keys()
    present = set(keys.tolist())
    missing = [k for k in wanted if k not in present]
    if missing:
        raise MolgenInputError(
            f"{protein.path}: residues not found in the receptor: {', '.join(missing)}. "
            f"Chains available: {protein.chain_summary()}"
        )
    return np.isin(keys, wanted)


def _by_box(protein: ProteinRecord, center: Sequence[float], size: float | Sequence[float]) -> np.ndarray:
    try:
        center_arr = np.asarray(center, dtype=np.float64).reshape(-1)
        size_arr = np.asarray(size, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise MolgenInputError(f"box_center / box_size must be numbers: {exc}") from exc
    if center_arr.shape != (3,) or size_arr.size not in (1, 3):
        raise MolgenInputError(
            f"box_center must be 3 numbers and box_size 1 or 3 numbers (Angstrom); got "
            f"{center_arr.tolist()} and {size_arr.tolist()}"
        )
    size_arr = np.broadcast_to(size_arr, (3,))
    if (size_arr <= 0).any():
        raise MolgenInputError(f"box_size must be positive, got {size}")
    inside = (np.abs(protein.pos - center_arr) <= size_arr / 2).all(axis=1)
    mask = _whole_residues(protein, inside)
    if not mask.any():
        lo = ", ".join(f"{v:.1f}" for v in protein.pos.min(0))
        hi = ", ".join(f"{v:.1f}" for v in protein.pos.max(0))
        raise MolgenInputError(
            f"{protein.path}: no protein atom inside the box centred at "
            f"{[round(float(v), 3) for v in center_arr]} with size {[float(v) for v in size_arr]} A; "
            f"the receptor spans [{lo}] to [{hi}]. Chains available: {protein.chain_summary()}"
        )
    return mask


def select_pocket(
    protein: ProteinRecord,
    *,
    ref_ligand_pos: np.ndarray | None = None,
    cutoff: float = DEFAULT_POCKET_CUTOFF,
    residues: str | Sequence[str] | None = None,
    box_center: Sequence[float] | None = None,
    box_size: float | Sequence[float] | None = None,
) -> PocketRecord:
    """The pocket residues of ``protein``, by exactly one of the three definitions.

    Args:
        protein: the receptor.
        ref_ligand_pos: ``[L, 3]`` heavy-atom coordinates of a reference ligand (Angstrom).
        cutoff: distance in Angstrom for the ligand definition.
        residues: ``"A:45,A:46"`` or a list of residue ids.
        box_center, box_size: centre (3 numbers) and edge length(s) of the box, in Angstrom.

    Returns:
        A :class:`PocketRecord` with whole residues, in receptor order.

    Raises:
        MolgenInputError: none or several definitions, or nothing selected.
    """
    given = [
        name
        for name, value in (("ref_ligand", ref_ligand_pos), ("residues", residues), ("box", box_center))
        if value is not None
    ]
    if box_center is None and box_size is not None:
        given.append("box")
    if len(given) != 1:
        raise MolgenInputError(
            "pocket: give exactly one definition: a reference ligand, a residue list, or "
            f"box_center + box_size; got {', '.join(given) if given else 'none'}"
        )
    if ref_ligand_pos is not None:
        mask = _by_ligand(protein, ref_ligand_pos, float(cutoff))
        definition = f"reference ligand, cutoff {float(cutoff):g} A"
    elif residues is not None:
        mask = _by_residues(protein, residues)
        definition = f"residues {','.join(parse_residue_spec(residues))}"
    else:
        if box_size is None:
            raise MolgenInputError("pocket: box_center given without box_size (Angstrom)")
        mask = _by_box(protein, box_center, box_size)  # type: ignore[arg-type]
        centre = [round(float(v), 3) for v in np.asarray(box_center, dtype=float).reshape(-1)]
        definition = f"box centre {centre} size {box_size} A"
    pocket = protein.select(mask)
    fields = {f.name: getattr(pocket, f.name) for f in dataclasses.fields(ProteinRecord)}
    return PocketRecord(**fields, definition=definition)


def read_pocket(
    receptor: str | os.PathLike[str],
    *,
    ref_ligand: str | os.PathLike[str] | None = None,
    cutoff: float = DEFAULT_POCKET_CUTOFF,
    residues: str | Sequence[str] | None = None,
    box_center: Sequence[float] | None = None,
    box_size: float | Sequence[float] | None = None,
) -> PocketRecord:
    """Read a receptor file and cut its pocket (:func:`select_pocket`), files in, record out.

    ``ref_ligand`` is an SD file; the heavy atoms of all its molecules define the pocket.
    """
    protein = read_protein(receptor)
    ligand_pos = None
    if ref_ligand is not None:
        mols = read_ligands(ref_ligand)
        ligand_pos = np.concatenate([m.GetConformer().GetPositions() for m in mols]).astype(np.float32)
    pocket = select_pocket(
        protein, ref_ligand_pos=ligand_pos, cutoff=cutoff, residues=residues,
        box_center=box_center, box_size=box_size,
    )  # fmt: skip
    if ref_ligand is not None:
        definition = f"reference ligand {Path(ref_ligand).name}, cutoff {float(cutoff):g} A"
        pocket = dataclasses.replace(pocket, definition=definition)
    return pocket

"""Ligands from and to SD files, with RDKit.

Reading requires 3D coordinates: a file whose conformers are flagged 2D (or have all z = 0), a
molecule with no atoms, or a record RDKit cannot parse is an error naming the file and the record.
Writing is atomic: a temporary file in the destination folder is renamed over the target with
``os.replace``, so a crash never leaves a half-written SDF.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path
from molgen.io.records import LigandRecord

__all__ = ["ligand_record", "read_ligand_records", "read_ligands", "write_sdf"]


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise MolgenInputError(f"{path}: file not found")
    if not path.is_file():
        raise MolgenInputError(f"{path}: not a file")
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.lower().endswith(".gz") else raw
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupt .gz
        raise MolgenInputError(f"{path}: cannot read the file ({exc})") from exc


_RECORD_END = re.compile(rb"^\$\$\$\$[ \t]*\r?$", re.MULTILINE)


def _record_problem(raw: bytes, index: int) -> str:
    """Where record ``index`` starts and why RDKit refused it (re-read unsanitised, then sanitised)."""
    starts = [0] + [m.end() + 1 for m in _RECORD_END.finditer(raw)]
    if index >= len(starts):
        return "malformed record"
    start = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else len(raw)
    line = raw.count(b"\n", 0, start) + 1
    block = raw[start:end].decode("utf-8", errors="replace")
    quiet = rdBase.BlockLogs()  # RDKit already logged the problem once while reading
    mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
    if mol is None:
        reason = "malformed record: truncated file, a missing 'M  END' line, or not an SD file?"
    else:
        try:
            Chem.SanitizeMol(mol)
            reason = "malformed record or invalid valence"
        except Exception as exc:  # noqa: BLE001 -- RDKit's own reason, e.g. the bad valence
            reason = str(exc).strip() or type(exc).__name__
    del quiet
    return f"record starting at line {line}: {reason}"


def _check_3d(mol: Chem.Mol, path: Path, index: int) -> None:
    label = f"{path}: molecule {index + 1}"
    if mol.GetNumAtoms() == 0:
        raise MolgenInputError(f"{label} has no atoms")
    if mol.GetNumConformers() == 0:
        raise MolgenInputError(f"{label} has no coordinates; 3D coordinates are required")
    conf = mol.GetConformer()
    pos = conf.GetPositions()
    flat = mol.GetNumAtoms() > 1 and bool(np.allclose(pos[:, 2], 0.0))
    if not conf.Is3D() or flat:
        raise MolgenInputError(
            f"{label} has 2D coordinates; 3D coordinates are required (embed a conformer first, "
            "e.g. RDKit ETKDG)"
        )


def read_ligands(
    path: str | os.PathLike[str], *, remove_hs: bool = True, sanitize: bool = True
) -> list[Chem.Mol]:
    """All molecules of an SD file (``.sdf`` / ``.mol`` / ``.sdf.gz``), each with a 3D conformer.

    Args:
        path: the file.
        remove_hs: drop explicit hydrogens (molgen's ligands are heavy-atom only).
        sanitize: run RDKit sanitization (a molecule failing it is an error).

    Each molecule gets the SD property ``_source`` = path and ``_Name`` kept from the file.

    Raises:
        MolgenInputError: missing/empty file, unparseable record, molecule with no atoms or
            without 3D coordinates. The message names the file and the record number.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise MolgenInputError(f"{path}: file is empty")
    # SD files are ASCII text: RDKit's log messages can cut a multi-byte character in half and
    # then raise inside RDKit, so anything non-ASCII becomes '?' (atom blocks are ASCII anyway)
    raw = raw.decode("utf-8", errors="replace").encode("ascii", errors="replace")
    supplier = Chem.ForwardSDMolSupplier(io.BytesIO(raw), sanitize=sanitize, removeHs=remove_hs)
    mols: list[Chem.Mol] = []
    for index, mol in enumerate(supplier):
        if mol is None:
            raise MolgenInputError(
                f"{path}: molecule {index + 1} could not be parsed by RDKit ({_record_problem(raw, index)})"
            )
        _check_3d(mol, path, index)
        mol.SetProp("_source", str(path))
        mols.append(mol)
    if not mols:
        raise MolgenInputError(f"{path}: no molecules found; is this an SD file?")
    return mols


def ligand_record(mol: Chem.Mol, *, name: str | None = None, path: str = "") -> LigandRecord:
    """Heavy atoms of ``mol`` (first conformer) as a :class:`LigandRecord`; ``mol`` is kept, H-free."""
    heavy = Chem.RemoveHs(mol, sanitize=False) if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()) else mol
    conf = heavy.GetConformer()
    pos = np.asarray(conf.GetPositions(), dtype=np.float32).reshape(-1, 3)
    elements = [atom.GetSymbol() for atom in heavy.GetAtoms()]
    if name is None:
        name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
    if not path and mol.HasProp("_source"):
        path = mol.GetProp("_source")
    return LigandRecord(pos=pos, element=elements, name=name, path=path, mol=heavy)


def read_ligand_records(path: str | os.PathLike[str]) -> list[LigandRecord]:
    """:func:`read_ligands` (hydrogens removed) as :class:`LigandRecord` s."""
    return [ligand_record(mol, path=str(path)) for mol in read_ligands(path)]


def _prop_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_sdf(
    mols: Sequence[Chem.Mol],
    path: str | os.PathLike[str],
    props: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write molecules to an SD file atomically (temp file in the same folder + ``os.replace``).

    Args:
        mols: molecules with a conformer (the input molecules are not modified).
        path: destination; parent folders are created.
        props: optional per-molecule SD properties (same length as ``mols``); values are written
            with ``str`` (floats with 6 significant digits); the key ``"_Name"`` sets the title.

    Returns:
        The destination path.
    """
    path = Path(path)
    if props is not None and len(props) != len(mols):
        raise MolgenInputError(f"{path}: {len(mols)} molecules but {len(props)} property dicts")
    for i, mol in enumerate(mols):
        if not isinstance(mol, Chem.Mol):
            raise MolgenInputError(f"{path}: item {i + 1} is not an RDKit molecule ({type(mol).__name__})")
    with atomic_path(path) as tmp:
        writer = Chem.SDWriter(str(tmp))
        try:
            for i, mol in enumerate(mols):
                mol = Chem.Mol(mol)
                for key, value in (props[i] if props is not None else {}).items():
                    mol.SetProp(str(key), _prop_value(value))
                writer.write(mol)
        finally:
            writer.close()
    return path

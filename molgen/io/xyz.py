"""Read and write XYZ molecules: concatenated files (plain or ``.gz``), folders and tar archives.

Two layouts are understood, also mixed in one file:

- plain XYZ: line 1 the atom count, line 2 a comment (here the molecule's name), then one
  ``El x y z`` line per atom (Angstrom);
- QM9's original per-molecule files (``dsgdb9nsd_000001.xyz``): line 2 holds ``gdb 1`` and the
  17 properties, atom lines carry a fifth column (Mulliken charge), numbers may use Mathematica's
  ``*^`` exponent (``1.5*^-6``), and three lines follow the atoms (harmonic frequencies, GDB and
  relaxed SMILES, InChIs).

No torch here: records are numpy arrays. Every problem raises
:class:`molgen.errors.MolgenInputError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import gzip
import lzma
import os
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from molgen.errors import MolgenInputError
from molgen.io.atomic import write_atomic

__all__ = [
    "XYZMolecule",
    "is_xyz_archive",
    "read_xyz",
    "read_xyz_archive",
    "read_xyz_dir",
    "read_xyz_text",
    "write_xyz",
]

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz")
_QM9_TRAILING_LINES = 3  # frequencies, SMILES (GDB and relaxed), InChI (GDB and relaxed)


@dataclass(frozen=True)
class XYZMolecule:
    """One molecule from an XYZ file.

    Attributes:
        name: the molecule's name: QM9's id (``dsgdb9nsd_000001``) for QM9 files, else the comment
            line (or ``<file stem>_<index>`` when it is empty).
        element: ``<U2 [N]`` capitalised element symbols (``C``, ``Cl``).
        pos: ``float32 [N, 3]`` coordinates in Angstrom.
        comment: the raw second line.
        charges: ``float32 [N]`` Mulliken charges of QM9's original files, else ``None``.
        extra_lines: lines after the atom block (QM9: frequencies, SMILES, InChI), else empty.
    """

    name: str
    element: np.ndarray
    pos: np.ndarray
    comment: str = ""
    charges: np.ndarray | None = None
    extra_lines: tuple[str, ...] = field(default=())

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.pos.shape[0])


def _open_text(path: Path) -> str:
    """Return the whole text of a plain or gzip-compressed file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise MolgenInputError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:  # truncated / corrupt gzip, permission, ...
        raise MolgenInputError(f"{path}: cannot read: {exc}") from exc
    return _decode(data, str(path))


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MolgenInputError(f"{source}: not a text XYZ file ({exc})") from exc


def _qm9_name(comment: str) -> str | None:
    """``'gdb 17\\t...'`` -> ``'dsgdb9nsd_000017'``; ``None`` for anything else."""
    parts = comment.split(None, 2)
    if len(parts) >= 2 and parts[0] == "gdb" and parts[1].isdigit():
        return f"dsgdb9nsd_{int(parts[1]):06d}"
    return None


def _is_count_line(line: str) -> bool:
    token = line.strip()
    return token.isascii() and token.isdigit()  # not "²" or other Unicode digits int() refuses


def _element(token: str, source: str, lineno: int) -> str:
    if not token.isalpha() or len(token) > 2:
        raise MolgenInputError(
            f"{source}: line {lineno}: {token!r} is not an element symbol (expected 'El x y z')"
        )
    return token[0].upper() + token[1:].lower()


def _floats(rows: list[list[str]], cols: slice, source: str, first_line: int) -> np.ndarray:
    """Parse the given columns of split atom lines as float64, accepting QM9's ``*^`` exponent."""
    table = [r[cols] for r in rows]
    try:
        return np.array(table, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty((len(table), len(table[0]) if table else 0), dtype=np.float64)
    for i, row in enumerate(table):
        for j, tok in enumerate(row):
            try:
                out[i, j] = float(tok.replace("*^", "e"))
            except ValueError:
                raise MolgenInputError(f"{source}: line {first_line + i}: {tok!r} is not a number") from None
    return out


def _parse_block(
    block: list[str], first_lineno: int, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Parse atom lines (the first is line ``first_lineno``); returns element, pos, charges."""
    rows = [ln.split() for ln in block]
    if min(map(len, rows)) < 4:
        i = next(k for k, r in enumerate(rows) if len(r) < 4)
        hint = " (fewer atoms than the count line says?)" if len(rows[i]) == 1 else ""
        raise MolgenInputError(
            f"{source}: line {first_lineno + i}: expected 'El x y z', got {block[i].rstrip()!r}{hint}"
        )
    tokens = [r[0] for r in rows]
    symbol = {}
    for t in set(tokens):
        symbol[t] = _element(t, source, first_lineno + tokens.index(t))
    element = np.array([symbol[t] for t in tokens], dtype="<U2")
    pos = _floats(rows, slice(1, 4), source, first_lineno).astype(np.float32)
    charges = None
    if all(len(r) == 5 for r in rows):
        charges = _floats(rows, slice(4, 5), source, first_lineno)[:, 0].astype(np.float32)
    return element, pos, charges


def _parse_lines(lines: Iterable[str], source: str, max_molecules: int | None = None) -> list[XYZMolecule]:
    """The parser behind every reader: consumes lines lazily, so a head of a file is cheap."""
    it = iter(lines)
    stem = Path(source).name.split(".")[0] or "mol"
    out: list[XYZMolecule] = []
    lineno = 0  # lines consumed so far
    pending: str | None = None  # a count line read while looking for QM9's trailing lines
    while max_molecules is None or len(out) < max_molecules:
        if pending is None:
            line = next(it, None)
            if line is None:
                break
            lineno += 1
        else:
            line, pending = pending, None
        if not line.strip():
            continue
        if not _is_count_line(line):
            raise MolgenInputError(f"{source}: line {lineno}: expected an atom count, got {line.rstrip()!r}")
        n_atoms = int(line.strip())
        if n_atoms == 0:
            raise MolgenInputError(f"{source}: line {lineno}: atom count is 0")
        count_lineno = lineno
        block = list(islice(it, n_atoms + 1))
        lineno += len(block)
        if len(block) < n_atoms + 1:
            raise MolgenInputError(
                f"{source}: line {count_lineno}: molecule {len(out) + 1} declares {n_atoms} atoms "
                f"but the file ends after {max(len(block) - 1, 0)} (truncated file?)"
            )
        comment = block[0].strip()
        element, pos, charges = _parse_block(block[1:], count_lineno + 2, source)
        qm9_name = _qm9_name(comment)
        extra: list[str] = []
        if qm9_name is not None or charges is not None:
            # QM9's original layout: up to three trailing lines before the next count line.
            while len(extra) < _QM9_TRAILING_LINES:
                line = next(it, None)
                if line is None:
                    break
                lineno += 1
                if _is_count_line(line):
                    pending = line
                    break
                extra.append(line.rstrip("\r\n"))
        name = qm9_name or comment or f"{stem}_{len(out)}"
        out.append(XYZMolecule(name, element, pos, comment, charges, tuple(extra)))
    return out


def read_xyz_text(
    text: str, source: str = "<string>", *, max_molecules: int | None = None
) -> list[XYZMolecule]:
    """Parse the text of a (possibly concatenated) XYZ file.

    Args:
        text: the file's content.
        source: the file name used in names and error messages.
        max_molecules: stop after this many molecules (``None``: all).

    Raises:
        MolgenInputError: bad atom count, truncated molecule, unparsable atom line.
    """
    return _parse_lines(text.splitlines(), source, max_molecules)


def read_xyz(path: str | os.PathLike[str], *, max_molecules: int | None = None) -> list[XYZMolecule]:
    """Read a concatenated XYZ file, plain or ``.gz`` (one or many molecules).

    Args:
        path: ``*.xyz`` or ``*.xyz.gz`` (any name; ``.gz`` means gzip).
        max_molecules: read at most this many molecules, from the start of the file (only
            that much of the file is read).

    Raises:
        MolgenInputError: missing, unreadable or corrupt (``.gz``) file, no molecule in it, bad
            atom count, truncated molecule, unparsable atom line (file and line named).
    """
    path = Path(path)
    if max_molecules is None:
        mols = read_xyz_text(_open_text(path), str(path))
    else:
        mols = _read_head(path, max_molecules)
    if not mols and max_molecules != 0:
        raise MolgenInputError(f"{path}: no molecule in file (empty file?)")
    return mols


def _read_head(path: Path, max_molecules: int) -> list[XYZMolecule]:
    """The first ``max_molecules`` molecules, reading only that much of the file."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            return _parse_lines(fh, str(path), max_molecules)
    except FileNotFoundError:
        raise MolgenInputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise MolgenInputError(f"{path}: not a text XYZ file ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise MolgenInputError(f"{path}: cannot read: {exc}") from exc


def _single_file_molecules(text: str, source: str, stem: str) -> list[XYZMolecule]:
    mols = read_xyz_text(text, source)
    if not mols:
        raise MolgenInputError(f"{source}: no molecule in file")
    if len(mols) == 1:
        m = mols[0]
        # A folder of QM9 files: the file stem is the molecule id.
        return [XYZMolecule(stem, m.element, m.pos, m.comment, m.charges, m.extra_lines)]
    return mols


def read_xyz_dir(
    path: str | os.PathLike[str],
    *,
    pattern: str = "*.xyz",
    max_molecules: int | None = None,
) -> list[XYZMolecule]:
    """Read a folder of XYZ files (e.g. QM9's ``dsgdb9nsd_*.xyz``) in sorted file-name order.

    A file holding one molecule names it after the file stem; a file holding several keeps the
    names from their comment lines.

    Raises:
        MolgenInputError: not a folder, no file matches ``pattern``, or a file is malformed.
    """
    path = Path(path)
    if not path.is_dir():
        raise MolgenInputError(f"{path}: not a folder")
    files = sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        raise MolgenInputError(f"{path}: no file matches {pattern!r}")
    out: list[XYZMolecule] = []
    for f in files:
        if max_molecules is not None and len(out) >= max_molecules:
            break
        out.extend(_single_file_molecules(_open_text(f), str(f), f.name.split(".")[0]))
    return out if max_molecules is None else out[:max_molecules]


def _iter_archive(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = sorted((m for m in tar if m.isfile() and ".xyz" in m.name), key=lambda m: m.name)
            for m in members:
                fh = tar.extractfile(m)
                if fh is not None:
                    yield m.name, fh.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise MolgenInputError(f"{path}: cannot read tar archive: {exc}") from exc


def read_xyz_archive(path: str | os.PathLike[str], *, max_molecules: int | None = None) -> list[XYZMolecule]:
    """Read the ``*.xyz`` members of a tar archive (QM9's ``dsgdb9nsd.xyz.tar.bz2``), by name."""
    path = Path(path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: no such file")
    out: list[XYZMolecule] = []
    for name, data in _iter_archive(path):
        if max_molecules is not None and len(out) >= max_molecules:
            break
        source = f"{path}:{name}"
        out.extend(_single_file_molecules(_decode(data, source), source, Path(name).name.split(".")[0]))
    if not out:
        raise MolgenInputError(f"{path}: no .xyz member in archive")
    return out if max_molecules is None else out[:max_molecules]


def is_xyz_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a tar archive by its suffix."""
    return str(path).lower().endswith(_ARCHIVE_SUFFIXES)


def write_xyz(molecules: Iterable[XYZMolecule], path: str | os.PathLike[str]) -> None:
    """Write molecules as one concatenated XYZ file (``.gz`` compresses), atomically.

    The comment line is the molecule's name; coordinates get 6 decimals.
    """
    path = Path(path)
    chunks: list[str] = []
    for m in molecules:
        chunks.append(f"{m.n_atoms}\n{m.name}\n")
        chunks.extend(f"{e} {x:.6f} {y:.6f} {z:.6f}\n" for e, (x, y, z) in zip(m.element, m.pos))
    data = "".join(chunks).encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    write_atomic(path, data)

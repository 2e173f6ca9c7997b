"""Protein chains as backbone records: PDB / mmCIF (plain or .gz) and CATH ``chain_set`` JSON.

No torch here. A :class:`ChainRecord` is one polypeptide chain (or a contiguous segment of one)
with its backbone atoms ``N, CA, C, O`` as ``float32 [L, 4, 3]`` in Angstrom; a missing atom is
NaN. Reading and filtering are separate steps::

    records = read_chains("1abc.cif.gz", chains=["A"])
    segments = clean_chains(records, min_length=40)   # split at breaks, drop short pieces

Reading rules (PDB / mmCIF, parsed with gemmi):

- the first model only;
- each atom's highest-occupancy alternate location (ties: the first listed); with
  microheterogeneity (two residue names at one position) the residue whose CA has the higher
  occupancy;
- standard amino acids from ATOM records, plus selenomethionine (``MSE``, ATOM or HETATM) read as
  MET; every other HETATM group (ligands, ions, modified residues) and water is skipped;
- author numbering, insertion codes kept: ``res_ids`` holds ``"52"``, ``"52A"``.

JSON rules: a list of ``{name, seq, coords}`` (``.json``), one such object per line
(``.jsonl``), or a single object; ``coords`` is per residue ``[N, CA, C, O]`` xyz (``[L, 4, 3]``)
or a dict ``{"N": [L,3], "CA": ..., "C": ..., "O": ...}``; ``null`` / ``NaN`` mark missing atoms.
Residues are numbered 1..L; ``chain_id`` is taken from names like ``"1abc.A"`` or ``"1abcA"``.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molgen.errors import MolgenInputError

__all__ = [
    "BACKBONE_ATOMS",
    "ONE_TO_THREE",
    "THREE_TO_ONE",
    "ChainRecord",
    "chain_break_mask",
    "clean_chains",
    "filter_length",
    "missing_atom_mask",
    "read_chains",
    "split_segments",
]

BACKBONE_ATOMS: tuple[str, ...] = ("N", "CA", "C", "O")

THREE_TO_ONE: dict[str, str] = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
}  # fmt: skip
ONE_TO_THREE: dict[str, str] = {v: k for k, v in THREE_TO_ONE.items()}

_STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif")
_JSON_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True, eq=False)
class ChainRecord:
    """One protein chain (or segment): sequence and backbone ``N, CA, C, O`` in Angstrom.

    Attributes:
        name: identifier, ``"<file stem>:<chain>"`` for structure files, the JSON ``name``
            otherwise; segments append ``"/<k>"``.
        seq: one-letter sequence, length L (``X`` for unknown residues in JSON input).
        backbone: ``float32 [L, 4, 3]``, atoms in :data:`BACKBONE_ATOMS` order, NaN if missing.
        res_ids: ``<U8 [L]`` author residue numbers with insertion code (``"52"``, ``"52A"``).
        chain_id: author chain id.
        path: the file the chain was read from (``""`` if built in memory).
    """

    name: str
    seq: str
    backbone: np.ndarray
    res_ids: np.ndarray
    chain_id: str
    path: str = field(default="")

    def __post_init__(self) -> None:
        bb = np.asarray(self.backbone, dtype=np.float32)
        ids = np.asarray(self.res_ids, dtype="<U8")
        if bb.ndim != 3 or bb.shape[1:] != (4, 3):
            raise MolgenInputError(f"{self.name}: backbone must be [L, 4, 3], got {bb.shape}")
        if len(self.seq) != bb.shape[0] or ids.shape != (bb.shape[0],):
            raise MolgenInputError(
                f"{self.name}: seq ({len(self.seq)}), res_ids ({ids.shape[0]}) and backbone "
                f"({bb.shape[0]}) lengths differ"
            )
        object.__setattr__(self, "backbone", bb)
        object.__setattr__(self, "res_ids", ids)

    def __len__(self) -> int:
        return int(self.backbone.shape[0])

    @property
    def ca(self) -> np.ndarray:
        """CA coordinates ``float32 [L, 3]``."""
        return self.backbone[:, 1]

    def residue_keys(self) -> list[str]:
        """Residue keys as ``"A:45"`` / ``"A:52A"``."""
        return [f"{self.chain_id}:{r}" for r in self.res_ids]

    def select(self, index: slice | np.ndarray | Sequence[int], name: str | None = None) -> ChainRecord:
        """A new record with the residues at ``index`` (a slice, indices or a bool mask)."""
        idx = np.arange(len(self))[index]
        return ChainRecord(
            name=self.name if name is None else name,
            seq="".join(self.seq[i] for i in idx),
            backbone=self.backbone[idx],
            res_ids=self.res_ids[idx],
            chain_id=self.chain_id,
            path=self.path,
        )


# ----------------------------------------------------------------------------- reading


def _strip_gz(path: Path) -> str:
    return path.name.lower().removesuffix(".gz")


def read_chains(path: str | Path, *, chains: Iterable[str] | None = None) -> list[ChainRecord]:
    """Read all protein chains of a PDB / mmCIF / chain_set JSON file (see module docstring).

    Args:
        path: ``.pdb``, ``.ent``, ``.cif``, ``.mmcif``, ``.json`` or ``.jsonl``, each optionally
            ``.gz``-compressed.
        chains: keep only these chain ids (structure files) or names / chain ids (JSON).

    Returns:
        One unsplit :class:`ChainRecord` per chain, in file order; use :func:`clean_chains` to
        split at breaks and filter.

    Raises:
        MolgenInputError: missing or unreadable file, unknown format, no protein chain, or a
            requested chain that is not in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: file not found")
    base = _strip_gz(path)
    if base.endswith(_JSON_SUFFIXES):
        records = _read_json(path)
    elif base.endswith(_STRUCTURE_SUFFIXES):
        records = _read_structure(path)
    else:
        raise MolgenInputError(
            f"{path}: unknown chain file type; expected one of "
            f"{', '.join(_STRUCTURE_SUFFIXES + _JSON_SUFFIXES)} (optionally .gz)"
        )
    if not records:
        raise MolgenInputError(f"{path}: no protein chain (standard amino acids) found")
    if chains is not None:
        wanted = list(chains)
        kept = [r for r in records if r.chain_id in wanted or r.name in wanted]
        found = {r.chain_id for r in kept} | {r.name for r in kept}
        missing = [c for c in wanted if c not in found]
        if missing:
            have = sorted({r.chain_id for r in records})
            raise MolgenInputError(f"{path}: chain(s) {missing} not found; the file has {have}")
        records = kept
    return records


def _read_structure(path: Path) -> list[ChainRecord]:
    import gemmi  # io edge only

    try:
        st = gemmi.read_structure(str(path))
    except Exception as exc:  # gemmi raises RuntimeError / ValueError with its own text
        raise MolgenInputError(f"{path}: cannot parse structure ({exc})") from exc
    if len(st) == 0:
        raise MolgenInputError(f"{path}: no model in file")
    stem = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    stem = stem.rsplit(".", 1)[0]
    records = []
    for chain in st[0]:
        rec = _chain_record(chain, f"{stem}:{chain.name}", str(path))
        if rec is not None:
            records.append(rec)
    return records


def _residue_atoms(res) -> dict[str, tuple[float, tuple[float, float, float]]]:
    """Backbone atom name -> (occupancy, xyz), keeping the highest-occupancy altloc."""
    best: dict[str, tuple[float, tuple[float, float, float]]] = {}
    for atom in res:
        if atom.name in BACKBONE_ATOMS and (atom.name not in best or atom.occ > best[atom.name][0]):
            best[atom.name] = (atom.occ, (atom.pos.x, atom.pos.y, atom.pos.z))
    return best


def _chain_record(chain, name: str, path: str) -> ChainRecord | None:
    kept: list[tuple[tuple[int, str], str, dict]] = []  # (seqid, one-letter, atoms)
    for res in chain:
        rname = res.name.upper()
        if rname == "MSE":
            letter = "M"
        elif rname in THREE_TO_ONE and res.het_flag != "H":
            letter = THREE_TO_ONE[rname]
        else:
            continue
        key = (res.seqid.num, res.seqid.icode.strip())
        atoms = _residue_atoms(res)
        if kept and kept[-1][0] == key:  # microheterogeneity: keep the better-occupied CA
            if atoms.get("CA", (-1.0,))[0] > kept[-1][2].get("CA", (-1.0,))[0]:
                kept[-1] = (key, letter, atoms)
            continue
        kept.append((key, letter, atoms))
    if not kept:
        return None
    backbone = np.full((len(kept), 4, 3), np.nan, dtype=np.float32)
    for i, (_, _, atoms) in enumerate(kept):
        for j, atom_name in enumerate(BACKBONE_ATOMS):
            if atom_name in atoms:
                backbone[i, j] = atoms[atom_name][1]
    return ChainRecord(
        name=name,
        seq="".join(k[1] for k in kept),
        backbone=backbone,
        res_ids=np.array([f"{num}{icode}" for (num, icode), _, _ in kept], dtype="<U8"),
        chain_id=chain.name,
        path=path,
    )


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _chain_id_from_name(name: str) -> str:
    if "." in name:
        return name.rsplit(".", 1)[1] or "A"
    if re.fullmatch(r"[0-9][A-Za-z0-9]{3}[A-Za-z0-9]", name):
        return name[4]
    return "A"


def _read_json(path: Path) -> list[ChainRecord]:
    try:
        with _open_text(path) as fh:
            if _strip_gz(path).endswith(".jsonl"):
                entries = [json.loads(line) for line in fh if line.strip()]
            else:
                data = json.load(fh)
                entries = data if isinstance(data, list) else [data]
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # EOFError / zlib.error: corrupt .gz
        raise MolgenInputError(f"{path}: cannot parse JSON ({exc})") from exc
    records = []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"seq", "coords"} <= entry.keys():
            raise MolgenInputError(f"{path}: entry {k} lacks 'seq' and 'coords'")
        name = str(entry.get("name", f"chain{k}"))
        coords = entry["coords"]
        try:
            if isinstance(coords, dict):
                missing = [a for a in BACKBONE_ATOMS if a not in coords]
                if missing:
                    raise ValueError(f"coords dict lacks {missing}")
                bb = np.stack([np.array(coords[a], dtype=np.float64) for a in BACKBONE_ATOMS], 1)
            else:
                bb = np.array(coords, dtype=np.float64)
            if bb.ndim != 3 or bb.shape[1:] != (4, 3):
                raise ValueError(f"coords shape {bb.shape}, expected [L, 4, 3]")
        except (ValueError, TypeError) as exc:
            raise MolgenInputError(f"{path}: entry {name!r}: bad coords ({exc})") from exc
        seq = str(entry["seq"])
        if len(seq) != len(bb):
            raise MolgenInputError(
                f"{path}: entry {name!r}: sequence length {len(seq)} != {len(bb)} residues"
            )
        records.append(
            ChainRecord(
                name=name,
                seq=seq,
                backbone=bb.astype(np.float32),
                res_ids=np.array([str(i + 1) for i in range(len(seq))], dtype="<U8"),
                chain_id=_chain_id_from_name(name),
                path=str(path),
            )
        )
    return records


# ----------------------------------------------------------------------------- filters


def missing_atom_mask(record: ChainRecord) -> np.ndarray:
    """``bool [L]``: True where any of N, CA, C, O is missing (NaN)."""
    return np.isnan(record.backbone).any(axis=(1, 2))


def chain_break_mask(record: ChainRecord, *, max_peptide_bond: float = 2.0) -> np.ndarray:
    """``bool [L-1]``: True between residues i and i+1 when C(i)-N(i+1) > ``max_peptide_bond``
    Angstrom or either atom is missing."""
    bb = record.backbone
    d = np.linalg.norm(bb[1:, 0] - bb[:-1, 2], axis=-1)
    return ~(d <= max_peptide_bond)  # NaN counts as a break


def split_segments(
    record: ChainRecord, *, max_peptide_bond: float = 2.0, drop_missing: bool = True
) -> list[ChainRecord]:
    """Split a chain into contiguous segments at chain breaks.

    With ``drop_missing`` residues missing any backbone atom are removed and break the chain
    there too. Segments are named ``"<name>/<k>"`` (k = 0, 1, ...) unless the chain stays whole.
    """
    n = len(record)
    if n == 0:
        return []
    keep = ~missing_atom_mask(record) if drop_missing else np.ones(n, dtype=bool)
    cut = np.zeros(n, dtype=bool)  # cut[i]: a new segment starts at residue i
    cut[1:] = chain_break_mask(record, max_peptide_bond=max_peptide_bond)
    segments: list[np.ndarray] = []
    current: list[int] = []
    for i in range(n):
        if not keep[i] or cut[i]:
            if current:
                segments.append(np.array(current))
            current = []
        if keep[i]:
            current.append(i)
    if current:
        segments.append(np.array(current))
    if len(segments) == 1 and len(segments[0]) == n:
        return [record]
    return [record.select(idx, name=f"{record.name}/{k}") for k, idx in enumerate(segments)]


def filter_length(
    records: Iterable[ChainRecord], *, min_length: int | None = None, max_length: int | None = None
) -> list[ChainRecord]:
    """Records with ``min_length <= L <= max_length`` (None: no bound)."""
    return [
        r for r in records
        if (min_length is None or len(r) >= min_length) and (max_length is None or len(r) <= max_length)
    ]  # fmt: skip


def clean_chains(
    records: Iterable[ChainRecord],
    *,
    min_length: int | None = 40,
    max_length: int | None = None,
    max_peptide_bond: float = 2.0,
) -> list[ChainRecord]:
    """Training-ready segments: residues with missing backbone atoms removed, chains split at
    breaks (C-N > ``max_peptide_bond`` A), then filtered by length."""
    segments = [s for r in records for s in split_segments(r, max_peptide_bond=max_peptide_bond)]
    return filter_length(segments, min_length=min_length, max_length=max_length)

"""Read receptors (PDB / mmCIF, plain or ``.gz``) into :class:`~molgen.io.records.ProteinRecord`.

Parsed with Biopython (``PDBParser`` / ``MMCIFParser``, permissive and quiet). The choices, made
deliberately and shared by every reader here:

- **models**: the first model only (NMR ensembles, multi-model files);
- **alternate locations**: each atom's highest-occupancy altloc, ties to the first listed
  (Biopython's disordered-atom selection). With microheterogeneity (two residue names at one
  position) the residue whose atoms have the higher mean occupancy, ties to the first;
- **insertion codes**: kept, part of the residue id (``"A:52A"``);
- **hydrogens** (element H or D): dropped, pockets and ligands are heavy-atom only;
- **waters** (``HOH``, ``WAT``, ``DOD``...): dropped;
- **protein** residues are amino acids: the 20 standard ones, ``UNK`` and modified amino acids
  (Biopython's extended 3-letter table) in ``ATOM`` records; in ``HETATM`` records an amino-acid
  name counts as protein only when the residue is peptide-bonded (C-N <= 2.0 A) to its neighbour
  in the chain, so modified residues (``SEP``, ``PTR``...) stay in the pocket while a free
  cofactor such as ``SAH`` does not. Selenomethionine (``MSE``) is read as ``MET`` with its Se
  atom renamed ``SD`` and typed S. Other non-standard names are kept (featurized as "unknown").
  ``exclude_res_names`` forces residue names out of the protein (the PoseBusters ligand);
- **other HETATM groups** (ligands, ions, cofactors, sugars, nucleic acids) are not protein; they
  are returned by :func:`read_hetero_ligands` (groups of at least ``min_heavy_atoms`` heavy atoms,
  so single-atom ions are left out).
"""

from __future__ import annotations

import gzip
import io
import os
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molgen.errors import MolgenInputError
from molgen.io.records import LigandRecord, ProteinRecord, residue_key

__all__ = [
    "STANDARD_AMINO_ACIDS",
    "STRUCTURE_SUFFIXES",
    "WATER_NAMES",
    "read_hetero_ligands",
    "read_protein",
    "read_structure_records",
    "structure_format",
]

#: The 20 standard amino acids, in the order used by the residue one-hot of pocket features.
STANDARD_AMINO_ACIDS: tuple[str, ...] = (
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
)  # fmt: skip
#: Residue names read as water and dropped.
WATER_NAMES: frozenset[str] = frozenset({"HOH", "WAT", "H2O", "DOD", "D2O", "SOL", "TIP", "TIP3"})
#: Recognised file suffixes (each may be followed by ``.gz``).
STRUCTURE_SUFFIXES: dict[str, str] = {".pdb": "pdb", ".ent": "pdb", ".cif": "cif", ".mmcif": "cif"}

_PEPTIDE_BOND_MAX = 2.0  # Angstrom, C(i)-N(i+1)
_HYDROGENS = ("H", "D")


def structure_format(path: str | os.PathLike[str]) -> str:
    """``"pdb"`` or ``"cif"`` from the file name (``.pdb``, ``.ent``, ``.cif``, ``.mmcif``, + ``.gz``)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in STRUCTURE_SUFFIXES:
        known = ", ".join(sorted(STRUCTURE_SUFFIXES))
        raise MolgenInputError(
            f"{path}: unknown structure file type {suffix or '(none)'!r}; expected one of {known}"
            " (optionally followed by .gz)"
        )
    return STRUCTURE_SUFFIXES[suffix]


def _read_text(path: Path) -> str:
    if not path.exists():
        raise MolgenInputError(f"{path}: file not found")
    if not path.is_file():
        raise MolgenInputError(f"{path}: not a file")
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8", errors="replace")  # stray bytes in REMARKs must not fail
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # zlib.error: corrupt .gz
        raise MolgenInputError(f"{path}: cannot read the file as text ({exc})") from exc
    if not text.strip():
        raise MolgenInputError(f"{path}: file is empty")
    return text


def _check_pdb_atom_lines(text: str, path: Path) -> None:
    """An ATOM/HETATM line ending before column 54 has cut coordinates (a truncated file)."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(("ATOM", "HETATM")) and len(line.rstrip()) < 54:
            raise MolgenInputError(
                f"{path}: line {lineno}: {line[:6].strip()} record cut short ({len(line.rstrip())} columns; "
                "x, y, z fill columns 31-54): truncated or hand-edited file?"
            )


def _parse(path: Path):
    """Biopython Structure of ``path``; every failure becomes a MolgenInputError."""
    fmt = structure_format(path)
    text = _read_text(path)
    if fmt == "pdb":
        _check_pdb_atom_lines(text, path)
    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionWarning

    parser = PDBParser(PERMISSIVE=True, QUIET=True) if fmt == "pdb" else MMCIFParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            structure = parser.get_structure(path.name, io.StringIO(text))
    except Exception as exc:  # Biopython raises many types on malformed input
        kind = "PDB" if fmt == "pdb" else "mmCIF"
        raise MolgenInputError(f"{path}: not a readable {kind} structure ({exc})") from exc
    models = list(structure)
    if not models or not any(True for _ in models[0].get_atoms()):
        kind = "PDB" if fmt == "pdb" else "mmCIF"
        raise MolgenInputError(f"{path}: no atoms found; is this a {kind} structure file?")
    return models[0]


def _element(atom) -> str:
    element = (atom.element or "").strip()
    if not element or element == "X":  # Biopython could not tell: guess from the atom name
        element = "".join(ch for ch in atom.get_id() if ch.isalpha())[:1]
    return element.capitalize()


def _pick_residue(residue):
    """Resolve microheterogeneity: the child with the highest mean occupancy, ties to the first."""
    if residue.is_disordered() != 2:
        return residue
    best, best_occ = None, -1.0
    for child in residue.disordered_get_list():
        occ = [a.get_occupancy() or 0.0 for a in child.get_atoms()]
        mean = float(np.mean(occ)) if occ else 0.0
        if mean > best_occ:
            best, best_occ = child, mean
    return best


@dataclass
class _Group:
    """Heavy (and hydrogen) atoms of one residue, before it is sorted into protein or hetero."""

    res_name: str
    chain: str
    res_seq: int
    icode: str
    hetero: bool
    atom_names: list[str]
    elements: list[str]
    coords: list[np.ndarray]

    def atom(self, name: str) -> np.ndarray | None:
        return self.coords[self.atom_names.index(name)] if name in self.atom_names else None


def _groups(model) -> list[list[_Group]]:
    """Residues per chain, altlocs resolved."""
    chains = []
    for chain in model:
        groups = []
        for wrapped in chain:
            residue = _pick_residue(wrapped)
            hetflag, res_seq, icode = residue.get_id()
            res_name = residue.get_resname().strip()
            if hetflag == "W" or res_name in WATER_NAMES:
                continue
            names, elements, coords = [], [], []
            for atom in residue.get_atoms():  # selected altloc of each disordered atom
                names.append(atom.get_id().strip())
                elements.append(_element(atom))
                coords.append(np.asarray(atom.get_coord(), dtype=np.float64))
            if names:
                groups.append(
                    _Group(res_name, str(chain.id).strip(), int(res_seq), icode.strip(),
                           hetflag.startswith("H_"), names, elements, coords)
                )  # fmt: skip
        chains.append(groups)
    return chains


def _is_amino_acid_name(name: str) -> bool:
    from Bio.Data.PDBData import protein_letters_3to1_extended

    return name in STANDARD_AMINO_ACIDS or name in ("MSE", "UNK") or name in protein_letters_3to1_extended


def _peptide_linked(groups: list[_Group], i: int) -> bool:
    def bonded(a: _Group, b: _Group) -> bool:  # C of a to N of b
        c, n = a.atom("C"), b.atom("N")
        return c is not None and n is not None and float(np.linalg.norm(c - n)) <= _PEPTIDE_BOND_MAX

    return (i > 0 and bonded(groups[i - 1], groups[i])) or (
        i + 1 < len(groups) and bonded(groups[i], groups[i + 1])
    )


def _split(chains: list[list[_Group]], exclude: frozenset[str]) -> tuple[list[_Group], list[_Group]]:
    protein, hetero = [], []
    for groups in chains:
        for i, group in enumerate(groups):
            is_aa = group.res_name not in exclude and _is_amino_acid_name(group.res_name)
            if is_aa and (not group.hetero or _peptide_linked(groups, i)):
                protein.append(group)
            else:
                hetero.append(group)
    return protein, hetero


def _protein_record(groups: list[_Group], path: Path) -> ProteinRecord:
    cols: dict[str, list] = {k: [] for k in ("pos", "element", "atom_name", "res_name", "chain",
                                             "res_seq", "icode")}  # fmt: skip
    for g in groups:
        res_name = "MET" if g.res_name == "MSE" else g.res_name
        for name, element, xyz in zip(g.atom_names, g.elements, g.coords):
            if element in _HYDROGENS:
                continue
            if g.res_name == "MSE" and element == "Se":
                name, element = "SD", "S"
            cols["pos"].append(xyz)
            cols["element"].append(element)
            cols["atom_name"].append(name)
            cols["res_name"].append(res_name)
            cols["chain"].append(g.chain)
            cols["res_seq"].append(g.res_seq)
            cols["icode"].append(g.icode)
    pos = np.asarray(cols.pop("pos"), dtype=np.float32).reshape(-1, 3)
    return ProteinRecord(pos=pos, path=str(path), **cols)


def _ligand_record(group: _Group, path: Path, keep_hydrogens: bool) -> LigandRecord:
    keep = [keep_hydrogens or e not in _HYDROGENS for e in group.elements]
    pos = np.asarray([xyz for xyz, k in zip(group.coords, keep) if k], dtype=np.float32)
    elements = [e for e, k in zip(group.elements, keep) if k]
    name = f"{group.res_name} {residue_key(group.chain, group.res_seq, group.icode)}"
    return LigandRecord(pos=pos.reshape(-1, 3), element=elements, name=name, path=str(path))


def read_structure_records(
    path: str | os.PathLike[str],
    *,
    exclude_res_names: Iterable[str] = (),
    min_heavy_atoms: int = 2,
    keep_hydrogens: bool = False,
) -> tuple[ProteinRecord, list[LigandRecord]]:
    """Parse a structure once into its protein and its hetero groups (see the module rules).

    Args:
        path: ``.pdb``/``.ent``/``.cif``/``.mmcif``, optionally ``.gz``.
        exclude_res_names: residue names never counted as protein (e.g. the ligand's CCD code).
        min_heavy_atoms: hetero groups with fewer heavy atoms (ions) are not returned.
        keep_hydrogens: keep H/D atoms in the returned hetero groups (the protein never has them).

    Returns:
        ``(protein, hetero_groups)``; the protein may be empty here (``read_protein`` raises).
        Hetero groups are in file order.

    Raises:
        MolgenInputError: missing, empty or unreadable file, unknown suffix, no atoms.
    """
    path = Path(path)
    protein_groups, hetero_groups = _split(_groups(_parse(path)), frozenset(exclude_res_names))
    ligands = []
    for group in hetero_groups:
        n_heavy = sum(e not in _HYDROGENS for e in group.elements)
        if n_heavy >= min_heavy_atoms:
            ligands.append(_ligand_record(group, path, keep_hydrogens))
    return _protein_record(protein_groups, path), ligands


def read_protein(path: str | os.PathLike[str], *, exclude_res_names: Iterable[str] = ()) -> ProteinRecord:
    """Heavy atoms of the protein residues of a PDB/mmCIF file (rules in the module docstring).

    Raises:
        MolgenInputError: the file is missing, empty, not a structure, or has no protein atoms.
    """
    protein, _ = read_structure_records(path, exclude_res_names=exclude_res_names)
    if protein.n_atoms == 0:
        raise MolgenInputError(
            f"{path}: no protein atoms found (no amino-acid residues; waters, hydrogens and "
            "hetero groups are not protein)"
        )
    return protein


def read_hetero_ligands(
    path: str | os.PathLike[str],
    *,
    res_name: str | None = None,
    min_heavy_atoms: int = 2,
    keep_hydrogens: bool = False,
) -> list[LigandRecord]:
    """Hetero groups (ligands, cofactors; not water, not single-atom ions) of a structure file.

    Each residue is one :class:`LigandRecord` named ``"<res_name> <chain>:<res_seq><icode>"`` with
    ``mol=None`` (PDB/mmCIF records carry no bond orders). With ``res_name`` only groups of that
    name are returned (and that name is never read as protein), in file order: a ligand present in
    several copies gives several records.

    Raises:
        MolgenInputError: unreadable file, or ``res_name`` given and no such group present.
    """
    exclude = (res_name,) if res_name else ()
    _, groups = read_structure_records(
        path, exclude_res_names=exclude, min_heavy_atoms=min_heavy_atoms, keep_hydrogens=keep_hydrogens
    )
    if res_name is None:
        return groups
    found = [g for g in groups if g.name.split(" ")[0] == res_name]
    if not found:
        present = sorted({g.name.split(" ")[0] for g in groups})
        raise MolgenInputError(
            f"{path}: no hetero group named {res_name!r}; hetero groups present: "
            f"{', '.join(present) if present else 'none'}"
        )
    return found

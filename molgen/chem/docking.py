"""AutoDock Vina scoring, local minimisation and docking (``vina`` + ``meeko``, no Open Babel).

Protocol (TargetDiff's ``VinaDockingTask``, with meeko in place of pdb2pqr + AutoDockTools):

* **Receptor** PDB -> PDBQT with meeko's ``Polymer`` (residue templates add the hydrogens that
  Vina's donor typing needs). Before meeko: waters dropped, chains made unique (CrossDocked
  receptors repeat chain ``A`` with different segment ids), residues meeko has no template for
  dropped (meeko would try to download them), metal ions dropped unless ``keep_ions=True``
  (TargetDiff's pdb2pqr step drops them). Residues meeko cannot match (e.g. truncated side
  chains) keep their heavy atoms with plain AutoDock types instead of vanishing. The PDBQT is
  cached per receptor file content in ``cache_dir``.
* **Ligand**: ``Chem.AddHs(mol, addCoords=True)`` then meeko ``MoleculePreparation`` and
  ``PDBQTWriterLegacy``; macrocycles are rigid for score/minimize (the pose as generated: opening
  the ring with glue atoms changed one reference score by 2.8 kcal/mol) and flexible for docking
  (a rigid ring docked to +7.8 instead of the published -6.27 kcal/mol).
* **Box**: centre of the ligand's bounding box (with H), size = extent + ``padding`` (5 A).
* **Modes**: ``vina_score`` = score of the pose as generated (``score_only``), ``vina_minimize`` =
  local optimisation (``optimize``), ``vina_dock`` = best pose of a docking run with
  ``exhaustiveness`` (TargetDiff's evaluation used 16). Energies in kcal/mol.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import string
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from molgen.errors import MolgenInputError

__all__ = [
    "VinaBox",
    "default_cache_dir",
    "prepare_ligand_pdbqt",
    "prepare_receptor_pdbqt",
    "vina_box",
    "vina_scores",
]

ION_RESIDUES = frozenset({"ZN", "MG", "CA", "MN", "FE", "CU", "F", "CL", "BR", "I"})
"""Ions meeko has templates for; kept in the receptor only with ``keep_ions=True``."""

_RECEPTOR_PREP_VERSION = "1"  # bump when the receptor preparation changes (invalidates the cache)
_AROMATIC = {
    "PHE": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"},
    "TYR": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"},
    "TRP": {"CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"},
    "HIS": {"CG", "ND1", "CD2", "CE1", "NE2"},
}


@dataclass(frozen=True)
class VinaBox:
    """Search box: ``center`` and edge lengths ``size`` in Angstrom."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]


def default_cache_dir() -> Path:
    """Where receptor PDBQT files are cached when no ``cache_dir`` is given."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "molgen" / "receptors"


def vina_box(mol: Chem.Mol, *, padding: float = 5.0) -> VinaBox:
    """TargetDiff's box: bounding box of the ligand with hydrogens, plus ``padding`` Angstrom."""
    molh = Chem.AddHs(mol, addCoords=True)
    pos = molh.GetConformer().GetPositions()
    lo, hi = pos.min(0), pos.max(0)
    return VinaBox(tuple(map(float, (lo + hi) / 2)), tuple(map(float, hi - lo + padding)))


def _clean_pdb(text: str, known: set[str], keep_ions: bool) -> tuple[str, set[str]]:
    """ATOM/HETATM records meeko can template, one unique chain id per (chain, segid)."""
    out, dropped = [], set()
    chain_of: dict[tuple[str, str], str] = {}
    pool = [c for c in string.ascii_uppercase + string.ascii_lowercase + string.digits]
    prev = None
    for line in text.splitlines():
        if not line.startswith(("ATOM", "HETATM")):
            continue
        res = line[17:20].strip()
        if res in ("HOH", "WAT", "DOD") or res not in known or (res in ION_RESIDUES and not keep_ions):
            dropped.add(res)
            continue
        line = line.ljust(80)
        key = (line[21], line[72:76].strip())
        if key not in chain_of:
            used = set(chain_of.values())
            chain_of[key] = line[21] if line[21].strip() and line[21] not in used else next(
                c for c in pool if c not in used)
        if prev is not None and key != prev:
            out.append("TER")
        prev = key
        out.append(line[:21] + chain_of[key] + line[22:])
    out.append("END")
    return "\n".join(out) + "\n", dropped


def _fallback_type(res: str, name: str, element: str) -> str:
    if element == "C":
        return "A" if name in _AROMATIC.get(res, ()) else "C"
    return {"N": "N", "O": "OA", "S": "SA"}.get(element, element[:2].capitalize())


def _residue_key(line: str) -> tuple[str, str]:
    return line[21], line[22:27]


def _add_unmatched_residues(clean_pdb: str, pdbqt: str) -> tuple[str, int]:
    """Append heavy atoms of residues meeko deleted, with plain AutoDock types (no H, charge 0)."""
    present = {_residue_key(x) for x in pdbqt.splitlines() if x.startswith(("ATOM", "HETATM"))}
    extra = []
    for line in clean_pdb.splitlines():
        if not line.startswith(("ATOM", "HETATM")) or _residue_key(line) in present:
            continue
        element = (line[76:78].strip() or line[12:16].strip()[:1]).capitalize()
        if element in ("H", "D"):
            continue
        adtype = _fallback_type(line[17:20].strip(), line[12:16].strip(), element)
        extra.append(f"{line[:54]}  1.00  0.00    +0.000 {adtype:<2s}")
    n_res = len({_residue_key(x) for x in extra})
    return pdbqt.rstrip("\n") + ("\n" + "\n".join(extra) if extra else "") + "\n", n_res


def prepare_receptor_pdbqt(
    pdb_path: str | Path, *, cache_dir: str | Path | None = None, keep_ions: bool = False
) -> Path:
    """Receptor PDB -> rigid PDBQT for Vina (see the module docstring), cached; returns its path.

    Raises:
        MolgenInputError: the file is missing or meeko cannot build any receptor from it.
    """
    path = Path(pdb_path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: receptor file not found")
    raw = path.read_bytes()
    digest = hashlib.sha1(raw + f"|{keep_ions}|{_RECEPTOR_PREP_VERSION}".encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = cache / f"{path.stem}_{digest}.pdbqt"
    if out.is_file():
        return out

    from meeko import MoleculePreparation, PDBQTWriterLegacy, Polymer, ResidueChemTemplates

    templates = ResidueChemTemplates.create_from_defaults()
    known = set(templates.residue_templates) | set(templates.ambiguous)
    clean, _dropped = _clean_pdb(raw.decode(errors="replace"), known, keep_ions)
    if clean.count("\n") <= 1:
        raise MolgenInputError(f"{path}: no protein residues to build a receptor from")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            polymer = Polymer.from_pdb_string(
                clean, templates, MoleculePreparation(), allow_bad_res=True, default_altloc="A"
            )
            rigid, _flex = PDBQTWriterLegacy.write_from_polymer(polymer)
    except Exception as exc:
        raise MolgenInputError(f"{path}: meeko could not prepare the receptor: {exc}") from exc
    rigid, _n_fallback = _add_unmatched_residues(clean, rigid)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(rigid)
    os.replace(tmp, out)  # atomic: parallel workers never read half a file
    return out


def prepare_ligand_pdbqt(mol: Chem.Mol, *, rigid_macrocycles: bool = True) -> str:
    """Ligand PDBQT string (hydrogens added with coordinates when the Mol has none).

    ``rigid_macrocycles=True`` scores a macrocycle as posed; ``False`` (meeko's default) opens
    it with glue pseudo-atoms so docking can flex the ring.

    Raises:
        ValueError: meeko cannot type the molecule.
    """
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    has_h = any(a.GetAtomicNum() == 1 for a in mol.GetAtoms())
    molh = Chem.Mol(mol) if has_h else Chem.AddHs(mol, addCoords=True)
    with contextlib.redirect_stdout(io.StringIO()):
        setups = MoleculePreparation(rigid_macrocycles=rigid_macrocycles).prepare(molh)
    text, ok, err = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise ValueError(f"meeko could not write the ligand PDBQT: {err}")
    return text


def vina_scores(
    mol: Chem.Mol,
    receptor_pdbqt: str | Path,
    *,
    box: VinaBox | None = None,
    modes: Sequence[str] = ("score_only", "minimize", "dock"),
    exhaustiveness: int = 16,
    seed: int = 1,
    cpu: int = 1,
) -> dict[str, float]:
    """Vina energies (kcal/mol) of ``mol`` in its generated pose.

    Args:
        mol: ligand with a 3D conformer (heavy atoms or with H).
        receptor_pdbqt: from :func:`prepare_receptor_pdbqt`.
        box: search box; default :func:`vina_box` of ``mol``.
        modes: any of ``"score_only"`` (-> ``vina_score``), ``"minimize"`` (-> ``vina_minimize``),
            ``"dock"`` (-> ``vina_dock``).
        exhaustiveness: Vina docking exhaustiveness (TargetDiff: 16).
        seed: Vina random seed (0 = random, as in Vina).
        cpu: threads for Vina (1: parallelism comes from running molecules side by side).
    """
    from vina import Vina

    unknown = set(modes) - {"score_only", "minimize", "dock"}
    if unknown:
        raise ValueError(f"unknown Vina modes {sorted(unknown)}")
    box = box or vina_box(mol)
    out: dict[str, float] = {}
    for mode in modes:  # a fresh Vina per mode, like TargetDiff (optimize moves the pose)
        v = Vina(sf_name="vina", cpu=cpu, seed=seed, verbosity=0)
        v.set_receptor(str(receptor_pdbqt))
        v.set_ligand_from_string(prepare_ligand_pdbqt(mol, rigid_macrocycles=mode != "dock"))
        v.compute_vina_maps(center=list(box.center), box_size=list(box.size))
        if mode == "score_only":
            out["vina_score"] = float(v.score()[0])
        elif mode == "minimize":
            out["vina_minimize"] = float(v.optimize()[0])
        else:
            v.dock(exhaustiveness=exhaustiveness, n_poses=1)
            out["vina_dock"] = float(np.asarray(v.energies(n_poses=1))[0][0])
    return out

"""AutoDock Vina scoring, local minimisation and docking (``vina`` + ``meeko``, no Open Babel).

Protocol (TargetDiff's ``VinaDockingTask``; AutoDock typing of the receptor done here in place of
AutoDockTools):

* **Receptor** PDB -> rigid PDBQT, cached per receptor file content and protocol in ``cache_dir``;
  two protocols (``protocol=`` of :func:`prepare_receptor_pdbqt`):

  - ``"pdb2pqr"`` (default, TargetDiff's): ``pdb2pqr --ff=AMBER`` adds hydrogens (default
    protonation states, hydrogen-bond optimisation) and rebuilds the missing heavy atoms of
    truncated side chains; residues it has no AMBER parameters for (ions, MSE, SEP, ...) are
    dropped, as they are from its PQR. :func:`receptor_pdbqt_from_protonated_pdb` then assigns
    AutoDock types as ``prepare_receptor4.py`` does (non-polar H merged, polar H ``HD``, acceptor
    N ``NA``). On the 100 CrossDocked test reference ligands this reproduces the published Vina
    score of 81 within 0.1 kcal/mol, the meeko protocol 65 (docs/benchmarks.md): a rebuilt side
    chain can clash with a ligand, which is what TargetDiff's scores contain.
  - ``"meeko"``: meeko's ``Polymer`` (residue templates add the hydrogens that Vina's donor typing
    needs), no atoms rebuilt. Before meeko: waters dropped, chains made unique (CrossDocked
    receptors repeat chain ``A`` with different segment ids), residues meeko has no template for
    dropped (meeko would try to download them). Residues meeko cannot match (e.g. truncated side
    chains) keep their heavy atoms with plain AutoDock types instead of vanishing.

  Both drop waters, and metal ions unless ``keep_ions=True`` (TargetDiff's pdb2pqr step drops them).
* **Ligand**: ``Chem.AddHs(mol, addCoords=True)`` then meeko 0.8 ``MoleculePreparation`` and
  ``PDBQTWriterLegacy``, set up by one of two protocols (``protocol=`` of
  :func:`prepare_ligand_pdbqt`, :data:`LIGAND_PROTOCOLS`):

  - ``"legacy"`` (default, TargetDiff's): meeko 0.1's rules, the meeko version TargetDiff's
    evaluation ran (its Open Babel ``AtomTyperLegacy`` and ``BondTyperLegacy``), applied in meeko
    0.8 (atom-type rules as options, its bond typer replaced). Where Vina sees a difference:
    (1) the single-bonded O of a carboxylic acid, ester or carbamate, an O between two aromatic
    atoms, an aromatic O and the first O of an aromatic nitro group are ``O`` (no acceptor;
    ``OA`` in meeko 0.8), and N+ other than ammonium stays ``NA``; (2) every single bond rotates
    but amides with a carbon on the carbonyl (``[NX3][CX3](=[OX1])[#6]``), while meeko 0.8 also
    freezes ureas, carbamates, thioamides, amidines and the single bonds next to a triple bond;
    this changes the torsion count, and so Vina's score, and the docked flexibility;
    (3) macrocycles stay rigid in every mode, docking included (meeko 0.1 did not open rings).
    On the 100 reference ligands this gives every published Vina score to 0.001 kcal/mol (meeko
    0.8: 78 within 0.01); e.g. fumarate in PYRD 2e6d -3.237 (meeko 0.8 -4.653), the
    urea-guanidine of CHIB1 3chc -4.115 (-5.078, 4 torsions fewer), and the HDAC8 4rn0 macrocycle
    docks to -6.22 (published -6.27; -4.19 with its ring opened).
  - ``"meeko"``: meeko 0.8's own types and rotatable bonds; macrocycles rigid for score/minimize
    and opened with glue atoms for docking.

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
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from molgen.errors import MolgenInputError
from molgen.io.atomic import write_atomic

__all__ = [
    "DEFAULT_LIGAND_PROTOCOL",
    "DEFAULT_RECEPTOR_PROTOCOL",
    "LIGAND_PROTOCOLS",
    "RECEPTOR_PROTOCOLS",
    "VinaBox",
    "default_cache_dir",
    "prepare_ligand_pdbqt",
    "prepare_receptor_pdbqt",
    "receptor_pdbqt_from_protonated_pdb",
    "vina_box",
    "vina_scores",
]

ION_RESIDUES = frozenset({"ZN", "MG", "CA", "MN", "FE", "CU", "F", "CL", "BR", "I"})
"""Ions meeko has templates for; kept in the receptor only with ``keep_ions=True``."""

DOCK_POSES = 9
"""Poses a Vina docking run returns (Vina's default); the best energy is ``vina_dock``."""
RECEPTOR_PROTOCOLS = ("pdb2pqr", "meeko")
"""Receptor preparations of :func:`prepare_receptor_pdbqt` (see the module docstring)."""
DEFAULT_RECEPTOR_PROTOCOL = "pdb2pqr"
LIGAND_PROTOCOLS = ("legacy", "meeko")
"""Ligand preparations of :func:`prepare_ligand_pdbqt` (see the module docstring)."""
DEFAULT_LIGAND_PROTOCOL = "legacy"

_LEGACY_RIGID_AMIDE = "[NX3][CX3](=[OX1])[#6]"  # meeko 0.1 BondTyperLegacy: the only rigid amides
# meeko 0.1 gave type O to one oxygen of an aromatic nitro group, the first of Open Babel's unique
# SMARTS match; RDKit's first unique match is the same atom (both follow the file's bond order)
_LEGACY_NITRO = Chem.MolFromSmarts("[#7](~O)(~O)(~a)")
# meeko 0.1 AtomTyperLegacy's rules as meeko 0.8 SMARTS rows (later rows override earlier ones;
# IDX is the 0-based atom of the match that is typed); the element types it took from the symbol
# are listed for the elements a ligand can have
_LEGACY_LIGAND_TYPES = [
    {"smarts": "[#1]", "atype": "H"},
    {"smarts": "[#1][#7,#8,#16]", "atype": "HD"},
    {"smarts": "[#6]", "atype": "C"},
    {"smarts": "[c]", "atype": "A"},
    {"smarts": "[#7]", "atype": "NA"},
    {"smarts": "[#7X3v3][a]", "atype": "N", "comment": "pyrrole, aniline"},
    {"smarts": "[#7X3v3][#6X3v4]", "atype": "N", "comment": "amide"},
    {"smarts": "[#7X4]", "atype": "N", "comment": "ammonium"},
    {"smarts": "[#8]", "atype": "OA"},
    {"smarts": "[a]~[#8]~[a]", "atype": "O", "IDX": [1], "comment": "aromatic ether"},
    {"smarts": "[#6](-[#8])(=[#8])", "atype": "O", "IDX": [1], "comment": "carboxy hydroxyl, ester"},
    {"smarts": "[o]", "atype": "O", "comment": "aromatic oxygen"},
    {"smarts": "[#16]", "atype": "SA"},
    {"smarts": "[s]", "atype": "S"},
    *({"smarts": f"[#{z}]", "atype": t} for z, t in (
        (5, "B"), (9, "F"), (12, "Mg"), (14, "Si"), (15, "P"), (17, "Cl"), (20, "Ca"), (25, "Mn"),
        (26, "Fe"), (30, "Zn"), (35, "Br"), (53, "I"))),
]

_RECEPTOR_PREP_VERSION = "2"  # bump when the receptor preparation changes (invalidates the cache)
_WATERS = frozenset({"HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL"})
_VINA_ION_TYPES = {"ZN": "Zn", "MG": "Mg", "CA": "Ca", "MN": "Mn", "FE": "Fe", "CL": "Cl", "BR": "Br",
                   "I": "I", "F": "F"}  # ions whose AutoDock type Vina knows (no Cu)
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


def _pdb_atoms(text: str) -> list[tuple[str, str, str, np.ndarray]]:
    """(record up to column 54, residue name, element, xyz) of the ATOM/HETATM records of a PDB."""
    atoms = []
    for line in text.splitlines():
        if not line.startswith(("ATOM", "HETATM")):
            continue
        name = line[12:16].strip()
        element = line[76:78].strip() if len(line) >= 78 else ""
        if not element:  # no element column: the name's first letter (PDB: H names may start with a digit)
            element = name.lstrip("0123456789")[:1]
        xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
        atoms.append((line[:54].ljust(54), line[17:20].strip(), element.upper(), xyz))
    return atoms


_COVALENT_RADIUS = {"C": 0.76, "N": 0.71, "O": 0.66, "S": 1.05, "SE": 1.20, "P": 1.07}


def receptor_pdbqt_from_protonated_pdb(pdb_text: str, *, keep_ions: bool = False) -> str:
    """Rigid receptor PDBQT from a PDB that already has all hydrogens (e.g. pdb2pqr's output).

    AutoDock 4 types as AutoDockTools' ``prepare_receptor4.py`` assigns them (only the distinctions
    Vina uses matter: acceptor N, and which N/O carry a polar H):

    * H bonded to C is merged (dropped); any other H, or one with no bond, is ``HD``;
    * N is ``NA`` (acceptor) with at most two bonded atoms, hydrogens counted (histidine's
      unprotonated ring N), else ``N`` (amide, protonated His, Lys, Arg, Trp);
    * O is ``OA``, S is ``SA``; C is ``A`` in Phe/Tyr/Trp/His rings, else ``C``;
    * waters are dropped; metal/halide ions are kept only with ``keep_ions=True`` and only those with
      a Vina type (Zn, Mg, Ca, Mn, Fe, Cl, Br, I, F); other HETATM records keep their element.

    Bonds are by distance: an H to its nearest heavy atom within 1.5 A, heavy atoms within 1.15 x
    the sum of covalent radii. Charges are written as 0 (Vina does not use them).
    """
    from scipy.spatial import cKDTree

    atoms = [a for a in _pdb_atoms(pdb_text) if a[1] not in _WATERS]
    atoms = [a for a in atoms if a[1] not in ION_RESIDUES or (keep_ions and a[1] in _VINA_ION_TYPES)]
    if not atoms:
        return ""
    xyz = np.array([a[3] for a in atoms])
    is_h = np.array([a[2] in ("H", "D") for a in atoms])
    heavy = np.flatnonzero(~is_h)
    tree = cKDTree(xyz[heavy])
    n_bonds = np.zeros(len(atoms), dtype=int)
    h_partner: dict[int, int] = {}
    for i in np.flatnonzero(is_h):
        dist, k = tree.query(xyz[i], distance_upper_bound=1.5)
        if np.isfinite(dist):
            h_partner[i] = int(heavy[k])
            n_bonds[heavy[k]] += 1
    for i, j in tree.query_pairs(2.5):
        a, b = heavy[i], heavy[j]
        ra = _COVALENT_RADIUS.get(atoms[a][2], 0.0)
        rb = _COVALENT_RADIUS.get(atoms[b][2], 0.0)
        if ra and rb and np.linalg.norm(xyz[a] - xyz[b]) < 1.15 * (ra + rb):
            n_bonds[a] += 1
            n_bonds[b] += 1
    out = []
    for i, (record, res, element, _) in enumerate(atoms):
        name = record[12:16].strip()
        if is_h[i]:
            partner = h_partner.get(i)
            if partner is not None and atoms[partner][2] == "C":
                continue  # non-polar H: merged, as prepare_receptor4 does
            adtype = "HD"
        elif res in ION_RESIDUES:
            adtype = _VINA_ION_TYPES[res]
        elif element == "N":
            adtype = "NA" if n_bonds[i] <= 2 else "N"
        else:
            adtype = _fallback_type(res, name, element)
        out.append(f"{record}  1.00  0.00    +0.000 {adtype:<2s}")
    return "\n".join(out) + "\n"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"


def _pdb2pqr(path: Path) -> str:
    """pdb2pqr (AMBER) on ``path``: its PDB output (hydrogens added, missing heavy atoms rebuilt).

    Run as ``python -m pdb2pqr`` in a temporary folder. Its PQR, which TargetDiff's protocol reads,
    holds exactly the ATOM records of this PDB; the HETATM records are residues it has no AMBER
    parameters for (ions, MSE, SEP, ligands), left out of the PQR.
    """
    import importlib.util

    if importlib.util.find_spec("pdb2pqr") is None:
        raise MolgenInputError(
            f"{path}: receptor_prep='pdb2pqr' needs the pdb2pqr package, which is not installed "
            "(pip install pdb2pqr==3.6.1), or use receptor_prep='meeko'")
    with tempfile.TemporaryDirectory(prefix="molgen_pdb2pqr_") as tmp:
        pqr, pdb = Path(tmp) / "receptor.pqr", Path(tmp) / "receptor_h.pdb"
        cmd = [sys.executable, "-m", "pdb2pqr", "--ff=AMBER", "--pdb-output", str(pdb),
               str(path.resolve()), str(pqr)]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not pdb.is_file():
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise MolgenInputError(f"{path}: pdb2pqr could not prepare the receptor: {tail}")
        return pdb.read_text()


def prepare_receptor_pdbqt(
    pdb_path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    keep_ions: bool = False,
    protocol: str = DEFAULT_RECEPTOR_PROTOCOL,
) -> Path:
    """Receptor PDB -> rigid PDBQT for Vina (see the module docstring), cached; returns its path.

    Args:
        protocol: ``"pdb2pqr"`` (TargetDiff's: pdb2pqr AMBER hydrogens and rebuilt side chains,
            AutoDock types by :func:`receptor_pdbqt_from_protonated_pdb`; needs the ``pdb2pqr``
            package) or ``"meeko"`` (residue templates).

    Raises:
        MolgenInputError: the file is missing, the protocol unknown or its tool missing, or no
            receptor can be built from the file.
    """
    if protocol not in RECEPTOR_PROTOCOLS:
        raise MolgenInputError(f"receptor_prep={protocol!r}: choose one of {', '.join(RECEPTOR_PROTOCOLS)}")
    path = Path(pdb_path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: receptor file not found")
    raw = path.read_bytes()
    key = f"|{keep_ions}|{protocol}|{_RECEPTOR_PREP_VERSION}"
    if protocol == "pdb2pqr":
        key += f"|pdb2pqr {_version('pdb2pqr')}"
    digest = hashlib.sha1(raw + key.encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = cache / f"{path.stem}_{protocol}_{digest}.pdbqt"
    if out.is_file():
        return out

    rigid = _receptor_pdbqt_pdb2pqr(path, keep_ions) if protocol == "pdb2pqr" else _receptor_pdbqt_meeko(
        path, raw, keep_ions)
    write_atomic(out, rigid)  # parallel workers never read half a file
    return out


def _receptor_pdbqt_pdb2pqr(path: Path, keep_ions: bool) -> str:
    # HETATM records of pdb2pqr's PDB output are the residues it has no AMBER parameters for (ions,
    # MSE, SEP, ...): not in its PQR, so not in TargetDiff's receptor; ions return with keep_ions
    text = "\n".join(line for line in _pdb2pqr(path).splitlines() if line.startswith("ATOM") or (
        keep_ions and line.startswith("HETATM") and line[17:20].strip() in _VINA_ION_TYPES))
    rigid = receptor_pdbqt_from_protonated_pdb(text, keep_ions=keep_ions)
    if not rigid:
        raise MolgenInputError(f"{path}: pdb2pqr left no protein atoms to build a receptor from")
    return rigid


def _receptor_pdbqt_meeko(path: Path, raw: bytes, keep_ions: bool) -> str:
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
    return rigid


def _legacy_rotatable_bonds(setup, *_options) -> None:
    """meeko 0.1's ``BondTyperLegacy`` on a meeko 0.8 ``MoleculeSetup``: every single bond rotates
    but amides with a carbon on the carbonyl; ring, terminal and methyl bonds are left to meeko's
    flexibility builder, as in both versions."""
    from rdkit.Chem.rdchem import BondType

    rigid = {tuple(sorted(hit[:2])) for hit in setup.find_pattern(_LEGACY_RIGID_AMIDE)}
    n_atoms = setup.mol.GetNumAtoms()
    for (i, j), bond in setup.bond_info.items():
        if i >= n_atoms or j >= n_atoms:
            continue  # a pseudo or dummy atom
        single = setup.mol.GetBondBetweenAtoms(i, j).GetBondType() == BondType.SINGLE
        bond.rotatable = single and (i, j) not in rigid  # bond_info keys are sorted pairs


def prepare_ligand_pdbqt(
    mol: Chem.Mol, *, rigid_macrocycles: bool = True, protocol: str = DEFAULT_LIGAND_PROTOCOL
) -> str:
    """Ligand PDBQT string (hydrogens added with coordinates when the Mol has none).

    ``protocol``: one of :data:`LIGAND_PROTOCOLS` (see the module docstring).
    ``rigid_macrocycles=False`` (meeko protocol only) opens macrocycles with glue pseudo-atoms so
    docking can flex the ring; ``True`` scores a macrocycle as posed. The legacy protocol keeps
    rings rigid, as meeko 0.1 did.

    Raises:
        MolgenInputError: an unknown ``protocol``.
        ValueError: meeko cannot type the molecule.
    """
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    if protocol not in LIGAND_PROTOCOLS:
        raise MolgenInputError(f"ligand_prep={protocol!r}: choose one of {', '.join(LIGAND_PROTOCOLS)}")
    legacy = protocol == "legacy"
    options = ({"rigid_macrocycles": True, "load_atom_params": None,
                "input_atom_params": {"legacy_ad4_types": _LEGACY_LIGAND_TYPES}}
               if legacy else {"rigid_macrocycles": rigid_macrocycles})
    has_h = any(a.GetAtomicNum() == 1 for a in mol.GetAtoms())
    molh = Chem.Mol(mol) if has_h else Chem.AddHs(mol, addCoords=True)
    preparation = MoleculePreparation(**options)
    if legacy:
        # meeko 0.8 has no option for meeko 0.1's rotatable bonds (it always freezes the single
        # bonds next to a triple bond): its bond typer is swapped (attribute of meeko 0.8)
        if not hasattr(preparation, "_bond_typer"):
            raise RuntimeError("ligand_prep='legacy' needs meeko 0.8 (its MoleculePreparation has no "
                               "_bond_typer here); install meeko==0.8.0 or use ligand_prep='meeko'")
        preparation._bond_typer = _legacy_rotatable_bonds
    with contextlib.redirect_stdout(io.StringIO()):
        setups = preparation.prepare(molh)
    if legacy:
        for hit in molh.GetSubstructMatches(_LEGACY_NITRO):
            setups[0].set_atom_type(hit[1], "O")
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
    ligand_prep: str = DEFAULT_LIGAND_PROTOCOL,
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
        ligand_prep: ligand preparation, one of :data:`LIGAND_PROTOCOLS`.
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
        v.set_ligand_from_string(prepare_ligand_pdbqt(mol, rigid_macrocycles=mode != "dock",
                                                      protocol=ligand_prep))
        v.compute_vina_maps(center=list(box.center), box_size=list(box.size))
        if mode == "score_only":
            out["vina_score"] = float(v.score()[0])
        elif mode == "minimize":
            out["vina_minimize"] = float(v.optimize()[0])
        else:
            # Vina's default 9 output poses, the best one kept: with n_poses=1 (TargetDiff's call)
            # vina 1.2.7 returned an unrefined pose for M3K14 4g3d (+30.8 where 9 poses give -7.27,
            # published -7.09)
            v.dock(exhaustiveness=exhaustiveness, n_poses=DOCK_POSES)
            out["vina_dock"] = float(np.asarray(v.energies(n_poses=DOCK_POSES))[:, 0].min())
    return out

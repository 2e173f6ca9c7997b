"""Training complexes with no leakage into the CrossDocked test set, and only poses PoseBusters passes.

Sources (``../shared/data``): ``posebusters`` (PoseBusters 308, one ligand per PDB file, bond
orders from the CCD via :func:`molgen.io.ccd.read_ccd_ligand`) and ``fep`` (the FEP benchmark:
92 prepared proteins, each with an SD file of ligand poses). A pose is kept when

1. **identity**: no protein chain of its complex is ``identity`` (30 %) or more sequence-identical
   to any chain of the 100 CrossDocked test receptors (``crossdocked_test/*/*_rec.pdb``) -- the
   CrossDocked split's own criterion. Identity is
   :func:`molgen.protein.sequence.sequence_identity`, the project's one definition: the best
   local (Smith-Waterman) alignment of Biopython's ``PairwiseAligner`` (BLOSUM62, gap open -10,
   extend -0.5), **identical aligned residues divided by the length of the shorter sequence**
   (identity times coverage of the shorter chain; a fragment of a test chain is 100 %). Not a
   global alignment: normalised by the shorter chain, a global alignment scatters the short chain
   over the long one and inflates identity between chains of unequal length (TS50 against
   PoseBusters segments: a median of 36 %), and the split's own tool (MMseqs2) aligns locally
   too. Chains shorter than
   ``min_chain_length`` (40) residues are not compared, on either side: peptides (cyclosporin in
   a test receptor, a bound peptide in a training complex) and fragments are not the receptor,
   and over a short chain a chance alignment reaches 30 % (the 33-residue chain A of the EF-Tu
   test receptor 2hcj matched 20 unrelated PoseBusters proteins at 10/33).
2. **PoseBusters**: the pose passes every check of PoseBusters' ``dock`` config against its
   protein (ligand chemistry and geometry, internal energy, distance and volume overlap to the
   protein, cofactors and waters). The protein handed to PoseBusters is cut to whole residues with
   any atom within ``crop`` (8 A) of a ligand atom: every protein check of the ``dock`` config
   looks only at atoms within 5 A, and the whole protein costs seconds per pose. Poses of a
   complex already dropped by identity are not checked (``pb_failed`` = ``not checked``).

:func:`build_manifest` returns one row per pose; :func:`combined_complexes` the kept ones, the
combined training set. ``molgen data leakage`` (:mod:`molgen.commands.leakage`) runs it all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molgen.errors import MolgenInputError
from molgen.io.atomic import write_atomic

__all__ = [
    "MANIFEST_COLUMNS",
    "ChainMatch",
    "Pose",
    "build_manifest",
    "combined_complexes",
    "pdb_lines",
    "complex_identity",
    "crop_pdb",
    "fep_poses",
    "load_pose",
    "posebusters_poses",
    "read_test_chains",
]

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("source", "complex", "pose", "protein", "ligand", "ligand_ref", "max_identity",
                    "query_chain", "test_chain", "pb_failed", "kept", "reason")  # fmt: skip


@dataclass(frozen=True)
class Pose:
    """One ligand pose in its protein.

    Attributes:
        source: ``"posebusters"`` or ``"fep"``.
        complex: the complex (``<pdbid>_<CCD>``) or FEP system (``<subset>/<system>``); the split
            group.
        pose: the pose's name (CCD code, or the SD record's title), unique within ``complex``.
        protein: the protein structure file.
        ligand: the file holding the ligand (the same PDB file, or the SD file).
        ligand_ref: CCD code (PDB layout) or 0-based record number in the SD file.
    """

    source: str
    complex: str
    pose: str
    protein: Path
    ligand: Path
    ligand_ref: str


@dataclass(frozen=True)
class ChainMatch:
    """The closest test chain of a complex: identity in [0, 1] and which chains."""

    max_identity: float
    query_chain: str
    test_chain: str


def posebusters_poses(root: str | os.PathLike[str]) -> list[Pose]:
    """One pose per ``<pdbid>_<CCD>.pdb[.gz]`` of a PoseBusters folder, sorted."""
    root = Path(root)
    files = sorted(root.glob("*_*.pdb*"))
    if not files:
        raise MolgenInputError(f"{root}: no <pdbid>_<CCD>.pdb(.gz) files")
    out = []
    for path in files:
        stem = path.name.split(".")[0]
        ccd = stem.partition("_")[2]
        out.append(Pose("posebusters", stem, ccd, path, path, ccd))
    return out


def fep_poses(root: str | os.PathLike[str]) -> list[Pose]:
    """Every record of every ``<subset>/<system>_ligands.sdf.gz`` with ``<system>_protein.pdb.gz``."""
    root = Path(root)
    out = []
    for sdf in sorted(root.glob("*/*_ligands.sdf*")):
        system = sdf.name.split("_ligands.sdf")[0]
        protein = next(iter(sorted(sdf.parent.glob(f"{system}_protein.pdb*"))), None)
        if protein is None:
            raise MolgenInputError(f"{sdf}: no {system}_protein.pdb(.gz) beside it")
        with (gzip.open(sdf, "rt") if sdf.name.endswith(".gz") else open(sdf)) as fh:
            titles, take = [], True
            for line in fh:
                if take:
                    titles.append(line.strip())
                take = line.startswith("$$$$")
        seen: dict[str, int] = {}
        for k, title in enumerate(titles):
            name = title or f"pose_{k}"
            seen[name] = seen.get(name, 0) + 1
            name = name if seen[name] == 1 else f"{name}#{seen[name]}"
            out.append(Pose("fep", f"{sdf.parent.name}/{system}", name, protein, sdf, str(k)))
    if not out:
        raise MolgenInputError(f"{root}: no <subset>/<system>_ligands.sdf(.gz) files")
    return out


def read_test_chains(files: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """``"<folder>/<file>:<chain>" -> sequence`` of every protein chain of the test receptors."""
    from molgen.io.chains import read_chains

    out = {}
    for path in files:
        path = Path(path)
        for record in read_chains(path):
            out[f"{path.parent.name}/{path.name}:{record.chain_id}"] = record.seq
    if not out:
        raise MolgenInputError("no test receptor chains: check the test receptor files")
    return out


def complex_identity(
    chains: dict[str, str],
    test_chains: dict[str, str],
    *,
    min_chain_length: int = 40,
    cache: dict[tuple[str, str], float] | None = None,
) -> ChainMatch:
    """The highest identity of any chain in ``chains`` (name -> sequence) to any of ``test_chains``,
    chains of either side shorter than ``min_chain_length`` residues left out; ``cache`` (by sequence pair) spares
    repeated alignments (homo-oligomers, one protein under many poses)."""
    from molgen.protein.sequence import sequence_identity

    cache = {} if cache is None else cache
    best = ChainMatch(0.0, "", "")
    for name, seq in chains.items():
        if len(seq) < min_chain_length:
            continue
        for test_name, test_seq in test_chains.items():
            if len(test_seq) < min_chain_length:
                continue
            key = (seq, test_seq)
            if key not in cache:
                cache[key] = sequence_identity(seq, test_seq)
            if cache[key] > best.max_identity:
                best = ChainMatch(cache[key], name, test_name)
    return best


def pdb_lines(path: str | os.PathLike[str], records: tuple[str, ...] = ("ATOM", "HETATM")) -> list[str]:
    """The lines of a PDB file (gzipped when it ends in ``.gz``) that start with one of ``records``."""
    path = Path(path)
    with (gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)) as fh:
        return [ln for ln in fh.read().splitlines() if ln.startswith(records)]


def crop_pdb(path: str | os.PathLike[str], ligand_pos: np.ndarray, *, cutoff: float = 8.0,
             exclude_res_name: str | None = None) -> str:
    """PDB text of the residues (ATOM and HETATM, waters and cofactors included) with any atom
    within ``cutoff`` A of a ligand position; residue ``exclude_res_name`` (the ligand) left out."""
    path = Path(path)
    lines = pdb_lines(path)
    if exclude_res_name:
        lines = [ln for ln in lines if not (ln.startswith("HETATM") and ln[17:20].strip() == exclude_res_name)]
    if not lines:
        raise MolgenInputError(f"{path}: no atoms")
    pos = np.array([[float(ln[30:38]), float(ln[38:46]), float(ln[46:54])] for ln in lines])
    residue = [ln[17:27] for ln in lines]
    lig = np.asarray(ligand_pos, dtype=float).reshape(-1, 3)
    d2 = ((pos[:, None, :] - lig[None, :, :]) ** 2).sum(-1).min(1)
    near = {residue[i] for i in np.flatnonzero(d2 <= cutoff**2)}
    return "\n".join([ln for ln, r in zip(lines, residue) if r in near] + ["END", ""])


def load_pose(pose: Pose):
    """The pose as an RDKit molecule (hydrogens as in the file).

    Raises:
        MolgenInputError: unreadable ligand.
    """
    from rdkit import Chem

    if pose.source == "posebusters":
        from molgen.io.ccd import read_ccd_ligand

        return read_ccd_ligand(pose.ligand, pose.ligand_ref)
    with (gzip.open(pose.ligand, "rb") if pose.ligand.name.endswith(".gz") else open(pose.ligand, "rb")) as fh:
        for k, mol in enumerate(Chem.ForwardSDMolSupplier(fh, removeHs=False)):
            if k == int(pose.ligand_ref):
                if mol is None:
                    raise MolgenInputError(f"{pose.ligand}: record {k + 1} does not parse")
                return mol
    raise MolgenInputError(f"{pose.ligand}: no record {int(pose.ligand_ref) + 1}")


def _check_complex(poses: Sequence[Pose], crop: float, tmpdir: Path, deadline: float = float("inf")) -> dict[str, str]:
    """``pose -> failed checks`` (``";"``-joined PoseBusters check names, ``""`` if all pass, or
    ``"unreadable: ..."``) for the poses of one complex; none started after ``deadline``
    (``time.perf_counter()``)."""
    from molgen.metrics.pocket import posebusters_checks

    out: dict[str, str] = {}
    for pose in poses:
        if time.perf_counter() >= deadline:
            break
        try:
            mol = load_pose(pose)
        except MolgenInputError as exc:
            out[pose.pose] = f"unreadable: {exc}"
            continue
        pocket = tmpdir / "pocket.pdb"
        exclude = pose.ligand_ref if pose.source == "posebusters" else None
        pocket.write_text(crop_pdb(pose.protein, mol.GetConformer().GetPositions(), cutoff=crop,
                                   exclude_res_name=exclude))  # fmt: skip
        # in this process (timeout=None): one pose per call, where a child process per pose would
        # cost its start-up each time; curated crystal and docked poses (881 checked in ~1,850 s)
        row = posebusters_checks([mol], pocket, config="dock", timeout=None)[0]
        out[pose.pose] = ";".join(k.removeprefix("pb_") for k, v in row.items() if k != "pb_valid" and not v)
    return out


def build_manifest(
    poses: Sequence[Pose],
    test_chains: dict[str, str],
    *,
    identity: float = 0.30,
    min_chain_length: int = 40,
    posebusters: bool = True,
    crop: float = 8.0,
    cache_dir: str | os.PathLike[str] | None = None,
    max_seconds: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row per pose (:data:`MANIFEST_COLUMNS`): kept, or dropped with the reason
    (``identity >= 30 % to <test chain>``, ``PoseBusters: <checks>``, ``unreadable: ...``).

    ``cache_dir`` keeps each complex's identity and PoseBusters results (one JSON per complex,
    written atomically), so an interrupted run resumes where it stopped. After ``max_seconds`` no
    new PoseBusters check is started (cached results are still used): the poses left have
    ``pb_failed = "not checked"`` and are kept or dropped by identity alone.
    """
    from molgen.io.chains import read_chains

    cache_dir = Path(cache_dir) if cache_dir is not None else None
    by_complex: dict[tuple[str, str], list[Pose]] = {}
    for pose in poses:
        by_complex.setdefault((pose.source, pose.complex), []).append(pose)
    alignments: dict[tuple[str, str], float] = {}
    rows = []
    deadline = time.perf_counter() + max_seconds if max_seconds is not None else float("inf")
    for count, ((source, name), group) in enumerate(by_complex.items(), start=1):
        start = time.perf_counter()
        cached_path = cache_dir / source / (name.replace("/", "__") + ".json") if cache_dir else None
        cached = json.loads(cached_path.read_text()) if cached_path and cached_path.is_file() else {}
        settings = {"min_chain_length": min_chain_length, "crop": crop,
                    "test_chains": hashlib.sha256(json.dumps(sorted(test_chains.items())).encode()).hexdigest()[:16]}
        if cached.get("settings") != settings:
            cached = {"settings": settings}
        if "match" not in cached:
            chains = {f"{r.chain_id}": r.seq for r in read_chains(group[0].protein)}
            cached["match"] = asdict(complex_identity(chains, test_chains, min_chain_length=min_chain_length,
                                                      cache=alignments))  # fmt: skip
        match = ChainMatch(**cached["match"])
        similar = match.max_identity >= identity
        checks: dict[str, str] = cached.get("posebusters", {})
        if posebusters and not similar and any(p.pose not in checks for p in group) and time.perf_counter() < deadline:
            tmp = (cache_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f".pb-{os.getpid()}"
            tmp.mkdir(parents=True, exist_ok=True)
            checks.update(_check_complex([p for p in group if p.pose not in checks], crop, tmp, deadline))
            cached["posebusters"] = checks
        if cached_path is not None:
            write_atomic(cached_path, json.dumps(cached, indent=1))
        for pose in group:
            failed = checks.get(pose.pose) if posebusters and not similar else None
            if similar:
                reason = f"identity {match.max_identity:.0%} >= {identity:.0%} to {match.test_chain}"
            elif failed is None:
                reason = ""
            elif failed.startswith("unreadable"):
                reason = failed
            else:
                reason = f"PoseBusters: {failed}" if failed else ""
            rows.append({
                "source": source, "complex": name, "pose": pose.pose, "protein": str(pose.protein),
                "ligand": str(pose.ligand), "ligand_ref": pose.ligand_ref,
                "max_identity": round(match.max_identity, 4), "query_chain": match.query_chain,
                "test_chain": match.test_chain, "pb_failed": "not checked" if failed is None else failed,
                "kept": not reason, "reason": reason,
            })  # fmt: skip
        if progress is not None:
            progress(f"{count}/{len(by_complex)} {source} {name}: {len(group)} poses, identity "
                     f"{match.max_identity:.0%}, {time.perf_counter() - start:.1f} s")
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))


def combined_complexes(
    manifest: pd.DataFrame | str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    *,
    require_posebusters: bool = True,
) -> list[Pose]:
    """The kept poses of a manifest (a table or its CSV), every source together: the training set.
    Relative file paths are taken relative to ``root`` (the shared data folder);
    ``require_posebusters`` leaves out kept poses PoseBusters has not checked.

    Raises:
        MolgenInputError: the manifest file is missing or lacks a column."""
    if isinstance(manifest, pd.DataFrame):
        table = manifest
    elif not Path(manifest).is_file():
        raise MolgenInputError(f"{manifest}: leakage manifest not found (molgen data leakage writes it)")
    else:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise MolgenInputError(f"{manifest if not isinstance(manifest, pd.DataFrame) else 'manifest'}: "
                               f"no column(s) {', '.join(missing)}")
    kept = table[table["kept"].astype(str).str.lower() == "true"]
    if require_posebusters:
        kept = kept[kept["pb_failed"].fillna("") != "not checked"]
    base = Path(root) if root is not None else Path()
    return [Pose(r.source, r.complex, r.pose, base / r.protein, base / r.ligand, str(r.ligand_ref))
            for r in kept.itertuples(index=False)]  # fmt: skip

"""``molgen eval``: every molecule and pose metric of a set of ligands, with the real tools.

``evaluate`` reads SD files (or takes RDKit Mols; a manifest, :mod:`molgen.manifest`, pairs each
ligand file with its own receptor), computes per molecule: validity, connectivity,
QED, SA (TargetDiff-normalised and raw), logP, Lipinski count, ring sizes, and with a receptor:
Vina score / minimize / dock, clashes, strain energy and PoseBusters checks. A tool that fails on
one molecule leaves its error in the ``error`` column and the run goes on. Molecules are spread
over ``n_jobs`` processes in chunks that share a receptor. ``summarize`` turns the table into one
row (set metrics, means and medians, pass rates, High Affinity); ``write_report`` writes CSV,
Markdown and PNG plots (both live in :mod:`molgen.report` and are re-exported here).

Conventions: energies in kcal/mol, distances in Angstrom. Means/medians of properties are over
valid molecules; Vina columns are empty for molecules that are invalid or have no receptor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rdkit import Chem, RDLogger

from molgen.errors import MolgenInputError
from molgen.metrics.pocket import PB_TIMEOUT
from molgen.report import SUMMARY_STATS, summarize, write_report

__all__ = ["SUMMARY_STATS", "EvalSettings", "evaluate", "read_molecules", "summarize", "write_report"]

PathLike = str | os.PathLike


@dataclass(frozen=True)
class EvalSettings:
    """What to compute (picklable: it travels to the worker processes)."""

    vina_modes: tuple[str, ...] = ("score_only", "minimize", "dock")
    exhaustiveness: int = 16
    seed: int = 1
    box_padding: float = 5.0
    ligand_prep: str = "legacy"
    posebusters: bool = True
    posebusters_timeout: float | None = PB_TIMEOUT
    strain: bool = True
    clashes: bool = True


@dataclass
class _Item:
    source: str
    index: int
    name: str
    molblock: str | None
    receptor: str | None
    error: str | None = None


def _sdf_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith((".sdf", ".sdf.gz", ".mol")))
        if not files:
            raise MolgenInputError(f"{path}: folder holds no .sdf files")
        return files
    if not path.is_file():
        raise MolgenInputError(f"{path}: file not found")
    return [path]


def read_molecules(path: PathLike, receptor: str | None = None) -> list[_Item]:
    """Every record of an SD file, unsanitised; an unreadable record becomes an item with an error.

    Unlike :func:`molgen.io.read_ligands` (strict: one bad record fails the file), evaluation must
    report bad molecules, not stop on them.
    """
    import gzip

    path = Path(path)
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    if not raw.strip():
        raise MolgenInputError(f"{path}: file is empty")
    items = []
    RDLogger.DisableLog("rdApp.*")
    try:
        import io

        supplier = Chem.ForwardSDMolSupplier(io.BytesIO(raw), sanitize=False, removeHs=False)
        for k, mol in enumerate(supplier):
            if mol is None:
                items.append(_Item(str(path), k, "", None, receptor, "read: RDKit cannot parse record"))
                continue
            name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
            items.append(_Item(str(path), k, name, Chem.MolToMolBlock(mol), receptor))
    finally:
        RDLogger.EnableLog("rdApp.*")
    if not items:
        raise MolgenInputError(f"{path}: no molecules found; is this an SD file?")
    return items


def _collect(inputs: Any, receptor: Any) -> list[_Item]:
    """Items from paths / folders / manifests / Mols, each paired with its receptor path (or None)."""
    from molgen.manifest import is_manifest, read_manifest

    if isinstance(inputs, (str, os.PathLike, Chem.Mol)):
        inputs = [inputs]
    inputs = list(inputs)
    if receptor is None or isinstance(receptor, (str, os.PathLike)):
        receptors = [None if receptor is None else str(receptor)] * len(inputs)
    else:
        receptors = [None if r is None else str(r) for r in receptor]
        if len(receptors) != len(inputs):
            raise MolgenInputError(
                f"receptor: {len(receptors)} receptors for {len(inputs)} inputs; give one receptor "
                "or one per input")
    pairs: list[tuple[Any, str | None]] = []
    for x, rec in zip(inputs, receptors):
        if isinstance(x, Chem.Mol) or not is_manifest(x):
            pairs.append((x, rec))
        elif rec is not None:
            raise MolgenInputError(f"{x}: a manifest names each ligand's receptor; give no receptor "
                                   f"with it (got {rec})")
        else:
            pairs.extend(read_manifest(x))
    for r in {rec for _, rec in pairs} - {None}:
        if not Path(r).is_file():
            raise MolgenInputError(f"{r}: receptor file not found")
    items: list[_Item] = []
    for k, (x, rec) in enumerate(pairs):
        if isinstance(x, Chem.Mol):
            name = x.GetProp("_Name") if x.HasProp("_Name") else ""
            items.append(_Item("<mol>", k, name, Chem.MolToMolBlock(x), rec))
        else:
            for f in _sdf_files(Path(x)):
                items.extend(read_molecules(f, rec))
    return items


def _heavy_sanitised(mol: Chem.Mol) -> Chem.Mol:
    out = Chem.RemoveHs(Chem.Mol(mol), sanitize=False)
    Chem.SanitizeMol(out)
    return out


def _evaluate_chunk(
    items: list[_Item], receptor_pdbqt: str | None, settings: EvalSettings
) -> list[dict[str, Any]]:
    """Worker: all metrics of molecules that share one receptor (see :func:`evaluate`)."""
    from molgen.metrics.pocket import posebusters_checks

    RDLogger.DisableLog("rdApp.*")
    receptor = items[0].receptor if items else None
    protein, protein_error = None, None
    if receptor is not None and settings.clashes:
        try:
            from molgen.io.structure import read_protein

            protein = read_protein(receptor)
        except Exception as exc:  # noqa: BLE001
            protein_error = f"clashes: {type(exc).__name__}: {exc}"
    rows: list[dict[str, Any]] = []
    mols: list[Chem.Mol | None] = []
    for it in items:
        row: dict[str, Any] = {"source": it.source, "index": it.index, "name": it.name,
                               "receptor": it.receptor}
        errors = [it.error] if it.error else []
        mol = None
        raw = Chem.MolFromMolBlock(it.molblock, sanitize=False, removeHs=False) if it.molblock else None
        if raw is not None:
            row["n_heavy_atoms"] = sum(a.GetAtomicNum() > 1 for a in raw.GetAtoms())
            row["n_fragments"] = len(Chem.GetMolFrags(raw))
            row["connected"] = row["n_fragments"] == 1
            try:
                mol = _heavy_sanitised(raw)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"sanitize: {type(exc).__name__}: {exc}")
        row["valid"] = mol is not None
        if mol is not None:
            row["smiles"] = Chem.MolToSmiles(mol)
            if protein_error:
                errors.append(protein_error)
            for tool, fn in _tools(mol, receptor, receptor_pdbqt, protein, settings):
                try:
                    row.update(fn())
                except Exception as exc:  # noqa: BLE001 -- record, go on with the next tool
                    errors.append(f"{tool}: {type(exc).__name__}: {exc}")
        mols.append(mol)
        row["error"] = "; ".join(errors) if errors else None
        rows.append(row)
    if settings.posebusters and receptor is not None and any(m is not None for m in mols):
        try:
            for row, pb in zip(rows, posebusters_checks(mols, receptor, timeout=settings.posebusters_timeout)):
                if "pb_error" in pb:
                    _add_error(row, f"posebusters: {pb.pop('pb_error')}")
                row.update(pb)
        except Exception as exc:  # noqa: BLE001
            msg = f"posebusters: {type(exc).__name__}: {exc}"
            for row, m in zip(rows, mols):
                if m is not None:
                    _add_error(row, msg)
    return rows


def _add_error(row: dict[str, Any], msg: str) -> None:
    """Append ``msg`` to the row's ``"; "``-joined ``error``."""
    row["error"] = f"{row['error']}; {msg}" if row["error"] else msg


def _tools(mol: Chem.Mol, receptor, receptor_pdbqt, protein, settings: EvalSettings):
    """(name, thunk) pairs run in order for one valid molecule."""
    from molgen.chem.docking import vina_box, vina_scores
    from molgen.chem.properties import compute_properties
    from molgen.metrics.pocket import count_clashes, strain_energy

    yield "properties", lambda: compute_properties(mol)
    if settings.strain:
        yield "strain", lambda: {"strain_energy": strain_energy(mol)["strain_energy"]}
    if protein is not None:
        pos = mol.GetConformer().GetPositions()
        elements = [a.GetSymbol() for a in mol.GetAtoms()]
        yield "clashes", lambda: {"clashes": count_clashes(pos, elements, protein.pos, protein.element)}
    if settings.vina_modes and receptor is not None and receptor_pdbqt is not None:
        yield "vina", lambda: vina_scores(
            mol, receptor_pdbqt, box=vina_box(mol, padding=settings.box_padding),
            modes=settings.vina_modes, exhaustiveness=settings.exhaustiveness, seed=settings.seed,
            ligand_prep=settings.ligand_prep)


def _prepare_receptor(
    receptor: str, cache_dir: PathLike | None, keep_ions: bool, receptor_prep: str
) -> tuple[str, str | None, str | None]:
    """(receptor, PDBQT path or None, error or None): picklable for the worker pool."""
    from molgen.chem.docking import prepare_receptor_pdbqt

    try:
        pdbqt = prepare_receptor_pdbqt(receptor, cache_dir=cache_dir, keep_ions=keep_ions,
                                       protocol=receptor_prep)
        return receptor, str(pdbqt), None
    except Exception as exc:  # noqa: BLE001 -- a bad receptor costs its molecules Vina, not the run
        return receptor, None, f"{type(exc).__name__}: {exc}"


def _chunks(items: list[_Item], size: int) -> list[list[_Item]]:
    by_receptor: dict[str | None, list[_Item]] = {}
    for it in items:
        by_receptor.setdefault(it.receptor, []).append(it)
    out = []
    for group in by_receptor.values():
        out.extend(group[k:k + size] for k in range(0, len(group), size))
    return out


def evaluate(
    inputs: PathLike | Chem.Mol | Sequence[PathLike | Chem.Mol],
    receptor: PathLike | Sequence[PathLike | None] | None = None,
    *,
    reference: pd.DataFrame | PathLike | Sequence[Any] | None = None,
    training_smiles: Iterable[str] | None = None,
    n_jobs: int = 2,
    vina: bool = True,
    vina_dock: bool = True,
    exhaustiveness: int = 16,
    seed: int = 1,
    posebusters: bool = True,
    posebusters_timeout: float | None = PB_TIMEOUT,
    strain: bool = True,
    keep_ions: bool = False,
    receptor_prep: str = "pdb2pqr",
    ligand_prep: str = "legacy",
    cache_dir: PathLike | None = None,
    chunk_size: int = 4,
    outdir: PathLike | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Per-molecule metrics of ``inputs``; one row per molecule (see the module docstring).

    Args:
        inputs: SD file(s), folder(s) of SD files, RDKit Mols with 3D conformers, or manifests
            (:mod:`molgen.manifest`: a CSV with columns ``ligand,receptor`` or a CrossDocked-layout
            folder), which pair each ligand with its own receptor.
        receptor: receptor PDB for all inputs, one per input (aligned with ``inputs``), or None
            (no pocket metrics; always None for a manifest).
        reference: reference ligands for the report: an earlier ``evaluate`` table, or inputs to
            evaluate here with the same receptor and settings.
        training_smiles: for novelty in the summary written to ``outdir``.
        n_jobs: worker processes (1 = run in this process).
        vina: compute Vina score and minimize; ``vina_dock`` adds a docking run with
            ``exhaustiveness`` (TargetDiff: 16) and Vina ``seed``.
        posebusters: PoseBusters "dock" checks (needs a receptor).
        posebusters_timeout: seconds PoseBusters may spend on one molecule (its energy ratio can
            run for tens of minutes on a strained polycycle); past it the molecule has no ``pb_``
            verdicts and its ``error`` says so. ``None``: no limit, checks in this process.
        strain: force-field strain energy.
        keep_ions: keep metal ions in the Vina receptor (TargetDiff's protocol drops them).
        receptor_prep: Vina receptor preparation, ``"pdb2pqr"`` (TargetDiff's; needs the ``pdb2pqr``
            package) or ``"meeko"``, see :func:`molgen.chem.docking.prepare_receptor_pdbqt`.
        ligand_prep: Vina ligand preparation, ``"legacy"`` (TargetDiff's: meeko 0.1's atom types
            and rotatable bonds) or ``"meeko"`` (meeko 0.8's), see
            :func:`molgen.chem.docking.prepare_ligand_pdbqt`.
        cache_dir: receptor PDBQT cache (default :func:`molgen.chem.docking.default_cache_dir`).
        chunk_size: molecules per worker task.
        outdir: when given, :func:`write_report` writes CSV/Markdown/PNG there.
        progress: show a progress bar.

    Raises:
        MolgenInputError: a missing/empty input file or receptor, mismatched receptor count, a
            bad manifest, a receptor given with a manifest, or an unknown ``receptor_prep`` or
            ``ligand_prep``.
    """
    if vina:
        from molgen.chem.docking import LIGAND_PROTOCOLS, RECEPTOR_PROTOCOLS

        for key, value, allowed in (("receptor_prep", receptor_prep, RECEPTOR_PROTOCOLS),
                                    ("ligand_prep", ligand_prep, LIGAND_PROTOCOLS)):
            if value not in allowed:
                raise MolgenInputError(f"{key}={value!r}: choose one of {', '.join(allowed)}")
    items = _collect(inputs, receptor)
    modes = (("score_only", "minimize") + (("dock",) if vina_dock else ())) if vina else ()
    settings = EvalSettings(vina_modes=modes, exhaustiveness=exhaustiveness, seed=seed,
                            ligand_prep=ligand_prep, posebusters=posebusters,
                            posebusters_timeout=posebusters_timeout, strain=strain)
    receptors = sorted({it.receptor for it in items} - {None}) if vina else []
    chunks = _chunks(items, max(1, chunk_size))
    rows: list[dict[str, Any]] = []
    bar = _progress(len(items), progress)
    pool = None
    if n_jobs > 1 and (len(chunks) > 1 or len(receptors) > 1):
        import multiprocessing as mp

        pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn"))
    try:
        prep = [(r, cache_dir, keep_ions, receptor_prep) for r in receptors]
        prepared = list(pool.map(_prepare_receptor, *zip(*prep))) if pool and prep else [
            _prepare_receptor(*x) for x in prep]
        pdbqt: dict[str | None, str | None] = {None: None}
        for rec, path, error in prepared:
            pdbqt[rec] = path
            for it in items:
                if error and it.receptor == rec:
                    it.error = "; ".join(e for e in (it.error, f"vina receptor: {error}") if e)
        if pool is None:
            for ch in chunks:
                rows.extend(_evaluate_chunk(ch, pdbqt.get(ch[0].receptor), settings))
                bar.update(len(ch))
        else:
            futures = {pool.submit(_evaluate_chunk, ch, pdbqt.get(ch[0].receptor), settings): ch
                       for ch in chunks}
            for fut in as_completed(futures):
                ch = futures[fut]
                try:
                    rows.extend(fut.result())
                except Exception as exc:  # noqa: BLE001 -- a dead worker must not sink the run
                    rows.extend({"source": it.source, "index": it.index, "name": it.name,
                                 "receptor": it.receptor, "valid": False,
                                 "error": f"worker: {type(exc).__name__}: {exc}"} for it in ch)
                bar.update(len(ch))
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    order = {(it.source, it.index): k for k, it in enumerate(items)}
    rows.sort(key=lambda r: order.get((r["source"], r["index"]), len(order)))
    df = _tidy(pd.DataFrame(rows))

    if outdir is not None:
        ref_df = reference
        if reference is not None and not isinstance(reference, pd.DataFrame):
            ref_df = evaluate(reference, receptor, n_jobs=n_jobs, vina=vina, vina_dock=vina_dock,
                              exhaustiveness=exhaustiveness, seed=seed, posebusters=posebusters,
                              strain=strain, keep_ions=keep_ions, receptor_prep=receptor_prep,
                              ligand_prep=ligand_prep, cache_dir=cache_dir,
                              chunk_size=chunk_size, progress=progress)
        write_report(df, outdir, reference=ref_df, training_smiles=training_smiles)
    return df


def _progress(total: int, enabled: bool):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        enabled = False
    if not enabled:
        class _Null:
            def update(self, n: int) -> None: ...
            def close(self) -> None: ...
        return _Null()
    return tqdm(total=total, desc="evaluate", unit="mol")


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Fixed column order: identity, chemistry, docking, pose, PoseBusters, error."""
    first = ["source", "index", "name", "receptor", "smiles", "valid", "connected", "n_fragments",
             "n_heavy_atoms", "qed", "sa", "sa_raw", "logp", "lipinski", "mol_weight", "n_rings"]
    rings = sorted((c for c in df.columns if c.startswith("ring_")),
                   key=lambda c: (c == "ring_large", int(c[5:]) if c[5:].isdigit() else 0))
    middle = ["vina_score", "vina_minimize", "vina_dock", "clashes", "strain_energy"]
    pb = [c for c in df.columns if c.startswith("pb_") and c != "pb_valid"]
    cols = [c for c in first + rings + middle + pb + ["pb_valid", "error"] if c in df.columns]
    cols += [c for c in df.columns if c not in cols]
    df = df.reindex(columns=cols)
    if "error" not in df.columns:
        df["error"] = None
    return df

"""Sampling as a job: SDF + CSV out, written batch by batch.

Each batch of ligands is generated with its own seed (``seed``, batch index), decoded, and
written at once to ``<outdir>/batches/batch_NNNN.sdf`` (atomically). A killed run keeps every
finished batch; ``resume=True`` skips them, so the resumed run ends with exactly ``n_samples``.
At the end the batches are merged into ``<outdir>/ligands.sdf`` and ``<outdir>/samples.csv``.
A sample whose trajectory went non-finite (NaN/Inf) is drawn again with a new seed up to
``max_retries`` times (column ``retries``); if it still fails its row keeps the error and no
coordinates are written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from rdkit import Chem

from molgen.diffusion.guidance import GuidanceScale
from molgen.errors import MolgenInputError
from molgen.io.tables import write_csv_atomic
from molgen.io.records import PocketRecord

__all__ = ["SamplingJob", "check_pocket_size", "pocket_tensors", "run_batches", "run_ligand_sampling", "run_molecule_sampling", "merge_batches"]

log = logging.getLogger(__name__)


def sample_seed(seed: int, sample: int, attempt: int = 0) -> int:
    """The seed of sample number ``sample``'s prior draw (independent of the batching); ``attempt``
    > 0 gives the fresh seeds of retries after a non-finite trajectory."""
    return (int(seed) * 1_000_003 + int(sample) + int(attempt) * 0x9E3779B97F4A7C15) % (2**63 - 1)


def check_pocket_size(pocket: PocketRecord, mode: str, limit: int | None) -> None:
    """Refuse a pocket with more nodes (atoms for ``full``, residues for ``ca``) than ``limit``."""
    if limit is None:
        return
    n_nodes = pocket.n_atoms if mode == "full" else pocket.n_residues
    if n_nodes > int(limit):
        unit = "heavy atoms" if mode == "full" else "residues"
        raise MolgenInputError(
            f"{pocket.path}: the pocket ({pocket.definition}) has {n_nodes} {unit}, more than this model's "
            f"limit of {int(limit)} (max_pocket_atoms); cut a smaller pocket: a smaller cutoff=, fewer "
            "residues=, or a smaller box_size="
        )


def pocket_tensors(pocket: PocketRecord, mode: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Featurized pocket centred on its centroid: (pos, feat, center [1, 3])."""
    from molgen.data.featurize import featurize_pocket

    feats = featurize_pocket(pocket, mode)
    center = feats["pocket_pos"].mean(0, keepdim=True)
    return feats["pocket_pos"] - center, feats["pocket_feat"], center


@dataclass
class SamplingJob:
    """What to sample and where to write it."""

    outdir: Path
    n_samples: int = 10
    n_atoms: tuple[int, int] | None = None
    steps: int | None = None
    batch_size: int = 50
    seed: int = 0
    largest_fragment: bool = False
    resume: bool = False
    guidance_scale: Any = 1.0   # a number or [positions, chemistry] (GuidanceScale)
    resample: int = 1
    allowed_elements: tuple[str, ...] | None = None
    max_retries: int = 1

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise MolgenInputError(f"n_samples={self.n_samples}: must be >= 1")
        if self.batch_size < 1:
            raise MolgenInputError(f"batch_size={self.batch_size}: must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise MolgenInputError(f"steps={self.steps}: must be >= 1")
        if self.resample < 1:
            raise MolgenInputError(f"resample={self.resample}: must be >= 1")
        if self.max_retries < 0:
            raise MolgenInputError(f"max_retries={self.max_retries}: must be >= 0")
        self.guidance_scale = GuidanceScale.parse(self.guidance_scale)


def _batch_sizes(task, pocket_n: int, job: SamplingJob, count: int, gen: torch.Generator) -> list[int]:
    if job.n_atoms is None:
        return task.sample_sizes(pocket_n, count, generator=gen)
    lo, hi = job.n_atoms
    return torch.randint(lo, hi + 1, (count,), generator=gen).tolist()


def fragment_query(fragment_mol):
    """The fragment's heavy atoms with their bond orders (aromatic bonds included) as a query."""
    return Chem.RemoveHs(fragment_mol)


def _fragment_intact(mol, query, n_fixed: int) -> bool:
    """The fixed atoms (the first ``n_fixed``) still form the fragment with its bond orders, each
    fragment atom matched by the generated atom at its fixed coordinates (atom ``k`` to atom ``k``):
    a ring that lost its aromaticity to new sp3 attachments is not intact."""
    identity = tuple(range(n_fixed))
    return identity in mol.GetSubstructMatches(query, uniquify=False, maxMatches=100_000)


def _decode_batch(generated, start: int, decoder, fragment_mol=None) -> tuple[list, list[dict]]:
    """Molecules and table rows of generated ligands, read by ``decoder``
    (:class:`~molgen.chem.decode.LigandDecoder`)."""
    from molgen.chem.properties import compute_properties

    query = None if fragment_mol is None else fragment_query(fragment_mol)
    n_fixed = 0 if fragment_mol is None else fragment_mol.GetNumHeavyAtoms()
    mols, rows = [], []
    for k, g in enumerate(generated):
        row = {"sample": start + k, "n_atoms": len(g.elements), "finite": g.finite, "valid": False,
               "connected": False, "n_fragments": 0, "smiles": "", "qed": np.nan, "sa": np.nan, "error": ""}
        if query is not None:
            row["fragment_intact"] = False
        if not g.finite:
            row["error"] = "non-finite coordinates in the sampling trajectory"
            rows.append(row)
            continue
        rec, extra = decoder(g.pos, g.elements, getattr(g, "graph", None))  # graph: predicted bonds
        row.update(valid=rec.valid, connected=rec.connected, n_fragments=rec.n_fragments,
                   smiles=rec.smiles or "", error=rec.error or "", **extra)
        if rec.valid:
            props = compute_properties(rec.mol)
            row.update(qed=props.get("qed", np.nan), sa=props.get("sa", np.nan))
            sd = {k2: row[k2] for k2 in ("sample", "valid", "connected", "smiles", "qed", "sa")}
            sd.update(extra)
            if query is not None and not decoder.largest_fragment:
                row["fragment_intact"] = sd["fragment_intact"] = _fragment_intact(rec.mol, query, n_fixed)
                sd["fixed_atoms"] = " ".join(str(i + 1) for i in range(n_fixed))  # 1-based, SDF style
            mols.append((rec.mol, sd))
        rows.append(row)
    return mols, rows


BatchFn = Callable[..., tuple[list, list[dict]]]  # (index, count, generator, attempt=0) -> (mols, rows)


def _retry_failed(job: SamplingJob, make_batch: BatchFn, b: int, mols: list, rows: list[dict]) -> list:
    """Draw samples whose trajectory was non-finite again (new seed), up to ``job.max_retries`` times."""
    for r in rows:
        r.setdefault("retries", 0)
    for attempt in range(1, job.max_retries + 1):
        failed = [i for i, r in enumerate(rows) if r.get("finite", True) is False]
        if not failed:
            break
        log.warning("batch %d: %d sample(s) went non-finite, drawing them again (retry %d of %d)",
                    b, len(failed), attempt, job.max_retries)
        gen = torch.Generator().manual_seed(job.seed * 100_003 + b + attempt * 1_000_000_007)
        new_mols, new_rows = make_batch(b, len(failed), gen, attempt)
        ids = {r["sample"]: rows[i]["sample"] for i, r in zip(failed, new_rows)}  # new id -> failed id
        for i, r in zip(failed, new_rows):
            rows[i] = {**r, "sample": ids[r["sample"]], "retries": attempt}
        mols = mols + [(m, {**p, "sample": ids[p["sample"]]}) for m, p in new_mols]
    return sorted(mols, key=lambda mp: mp[1]["sample"])


def run_batches(job: SamplingJob, make_batch: BatchFn, *, sdf_name: str) -> pd.DataFrame:
    """Call ``make_batch(index, count, generator) -> (mols_with_props, rows)`` per batch.

    Samples whose row says ``finite=False`` are drawn again with ``make_batch(index, n_failed,
    new_generator, attempt)`` (``attempt`` = 1, 2, ...: use fresh seeds), ``job.max_retries`` times.

    Each batch is written at once (SDF, then CSV: a batch is done when its CSV exists); with
    ``job.resume`` finished batches are skipped. Returns the merged per-sample table.
    """
    from molgen.io.sdf import write_sdf

    outdir = Path(job.outdir)
    batch_dir = outdir / "batches"
    batch_dir.mkdir(parents=True, exist_ok=True)
    for stale in batch_dir.glob(".batch_*.tmp"):  # left by a killed run: never results
        stale.unlink(missing_ok=True)
    n_batches = (job.n_samples + job.batch_size - 1) // job.batch_size
    for b in range(n_batches):
        sdf_path, csv_path = batch_dir / f"batch_{b:04d}.sdf", batch_dir / f"batch_{b:04d}.csv"
        if job.resume and sdf_path.exists() and csv_path.exists():
            log.info("resume: batch %d already written, skipping", b)
            continue
        count = min(job.batch_size, job.n_samples - b * job.batch_size)
        gen = torch.Generator().manual_seed(job.seed * 100_003 + b)
        t0 = time.perf_counter()
        mols, rows = make_batch(b, count, gen)
        mols = _retry_failed(job, make_batch, b, mols, rows)
        dt = (time.perf_counter() - t0) / max(count, 1)
        for r in rows:
            r["seconds"] = dt
        write_sdf([m for m, _ in mols], sdf_path, props=[p for _, p in mols])
        write_csv_atomic(pd.DataFrame(rows), csv_path)
    return merge_batches(outdir, n_batches, sdf_name)


def run_ligand_sampling(
    task,
    pocket: PocketRecord,
    job: SamplingJob,
    *,
    sampler=None,
    on_step: Callable[[int], None] | None = None,
    fragment_mol=None,
    bonds: str = "predicted",
    guides=None,
    relax=None,
) -> pd.DataFrame:
    """Generate ``job.n_samples`` ligands for ``pocket``; write ``ligands.sdf`` and ``samples.csv``.

    ``bonds`` (a bond-aware model): ``"predicted"`` writes the bonds as predicted, ``"repaired"``
    after :func:`~molgen.chem.valence_repair.repair_valence` (rows get ``valid_predicted``,
    ``connected_predicted`` and ``bond_edits``), ``"distances"`` perceives them from the coordinates
    (:class:`~molgen.chem.decode.LigandDecoder`); an atoms-only model's are always perceived.

    ``fragment_mol`` (RDKit, receptor frame) is kept fixed as the first atoms of every ligand;
    ``n_atoms`` then counts the fragment too. Rows get ``fragment_intact`` and the SDF records
    get a ``fixed_atoms`` property (1-based indices).

    ``guides`` (:class:`~molgen.diffusion.sampling_guides.SamplingGuides`, bond-aware model; built by
    :func:`~molgen.sampling_common.sampling_guides`) correct every step's clean estimate: pocket
    repulsion keeps the ligand atoms out of the pocket's atoms, fragment attraction brings the pieces
    of a molecule together.

    ``relax`` (:class:`~molgen.chem.pose_relaxation.PoseRelaxation`) cleans up every valid pose in a
    force field, the pocket's atoms as walls (rows get ``relax_force_field`` and ``relax_rmsd``);
    fixed fragment atoms stay put.
    """
    from dataclasses import replace

    from molgen.chem.decode import LigandDecoder
    from molgen.tasks.ligand_pocket import Fragment

    if guides is not None and not getattr(task, "predicts_bonds", False):
        raise MolgenInputError("sampling guides (clash_distance, join_fragments) need a bond-aware (flow) "
                               f"model; this checkpoint's task is {type(task).__name__}")
    extra = {} if guides is None else {"guides": guides}

    if relax is not None:
        relax = relax.in_pocket(pocket.pos, pocket.element)
        if fragment_mol is not None:
            relax = replace(relax, fixed_atoms=tuple(range(fragment_mol.GetNumHeavyAtoms())))
    try:
        decoder = LigandDecoder(bonds, job.largest_fragment, relax)
    except ValueError as exc:
        raise MolgenInputError(str(exc)) from None
    check_pocket_size(pocket, task.pocket_mode, getattr(task, "max_pocket_atoms", None))
    pos, feat, center = pocket_tensors(pocket, task.pocket_mode)
    fragment = None
    if fragment_mol is not None:
        fragment = Fragment.from_mol(fragment_mol)

    def make_batch(b: int, count: int, gen: torch.Generator, attempt: int = 0):
        sizes = _batch_sizes(task, pos.shape[0], job, count, gen)
        if fragment is not None:
            sizes = [max(n, len(fragment.elements) + 1) for n in sizes]
        generated = task.generate(pos, feat, sizes, center=center, steps=job.steps, sampler=sampler,
                                  generator=gen, batch_size=count, progress=on_step, fragment=fragment,
                                  resample=job.resample, guidance_scale=job.guidance_scale,
                                  allowed_elements=job.allowed_elements, **extra,
                                  seeds=[sample_seed(job.seed, b * job.batch_size + k, attempt)
                                         for k in range(count)])
        return _decode_batch(generated, b * job.batch_size, decoder, fragment_mol)

    return run_batches(job, make_batch, sdf_name="ligands.sdf")


def run_molecule_sampling(task, job: SamplingJob, *, sampler=None,
                          on_step: Callable[[int], None] | None = None, bonds: str = "predicted") -> pd.DataFrame:
    """Generate ``job.n_samples`` molecules into ``molecules.sdf``.

    A task that predicts bonds (``task.predicts_bonds``) writes its predicted bonds and charges
    (``bonds="predicted"``) or, with ``bonds="distances"``, bonds perceived from the coordinates
    with EDM's tables as for an atoms-only model (the cross-check); an atoms-only task always the latter.
    """
    if bonds not in ("predicted", "distances"):
        raise MolgenInputError(f"bonds={bonds!r}: allowed values are predicted, distances")
    predicted = getattr(task, "predicts_bonds", False)

    def make_batch(b: int, count: int, gen: torch.Generator, attempt: int = 0):  # gen differs per attempt
        if job.n_atoms is None:
            sizes = task.sample_sizes(count, generator=gen)
        else:
            sizes = torch.randint(job.n_atoms[0], job.n_atoms[1] + 1, (count,), generator=gen).tolist()
        generated = task.generate(sizes, steps=job.steps, sampler=sampler, generator=gen, batch_size=count,
                                  progress=on_step)
        if predicted and bonds == "predicted":
            return _decode_bond_graphs(generated, b * job.batch_size)
        if predicted:
            generated = [(g.pos, g.elements, ok) for g, ok in generated]
        return _decode_by_distances(generated, b * job.batch_size)

    return run_batches(job, make_batch, sdf_name="molecules.sdf")


def _decode_by_distances(generated, start: int) -> tuple[list, list[dict]]:
    """Molecules with bonds from EDM's distance tables, and EDM's stability and validity."""
    from molgen.metrics.stability import build_edm_mol, check_molecule

    mols, rows = [], []
    for k, (pos, elements, ok) in enumerate(generated):
        row = {"sample": start + k, "n_atoms": len(elements), "finite": ok,
               "mol_stable": False, "atom_stable": 0.0, "valid": False, "smiles": "", "error": ""}
        if not ok:
            row["error"] = "non-finite coordinates in the sampling trajectory"
        else:
            check = check_molecule(pos, elements)
            row.update(mol_stable=check.molecule_stable, atom_stable=check.n_stable_atoms / check.n_atoms,
                       valid=check.valid, smiles=check.smiles or "")
            mols.append((build_edm_mol(pos, elements),
                         {k2: row[k2] for k2 in ("sample", "mol_stable", "valid", "smiles")}))
        rows.append(row)
    return mols, rows


def _decode_bond_graphs(generated, start: int) -> tuple[list, list[dict]]:
    """Molecules built from predicted atoms, charges and bonds; EDM's distance check beside them."""
    from rdkit.rdBase import BlockLogs

    from molgen.metrics.bond_stability import check_graph
    from molgen.metrics.stability import check_molecule

    mols, rows = [], []
    for k, (graph, ok) in enumerate(generated):
        row = {"sample": start + k, "n_atoms": len(graph.elements), "finite": ok, "mol_stable": False,
               "atom_stable": 0.0, "valid": False, "connected": False, "smiles": "",
               "edm_mol_stable": False, "edm_valid": False, "error": ""}
        if not ok:
            row["error"] = "non-finite coordinates in the sampling trajectory"
            rows.append(row)
            continue
        check, mol = check_graph(graph)
        row.update(mol_stable=check.molecule_stable, atom_stable=check.n_stable_atoms / max(check.n_atoms, 1),
                   valid=check.valid, connected=check.valid and check.connected, smiles=check.smiles or "",
                   error=check.error or "")
        if graph.implicit_hs:  # EDM's tables count explicit hydrogens: no verdict on heavy-atom molecules
            row.update(edm_mol_stable=None, edm_valid=None)
        else:
            with BlockLogs():  # RDKit would log every molecule the distance tables make unsanitisable
                edm = check_molecule(graph.pos, graph.elements)
            row.update(edm_mol_stable=edm.molecule_stable, edm_valid=edm.valid)
        mols.append((mol, {k2: row[k2] for k2 in ("sample", "mol_stable", "valid", "connected", "smiles")}))
        rows.append(row)
    return mols, rows


def read_written_sdf(path: Path, *, sanitize: bool = True, remove_hs: bool = True) -> list:
    """The molecules of an SD file this module wrote; an empty file (no valid sample) is no molecule
    (RDKit's supplier refuses empty files)."""
    if Path(path).stat().st_size == 0:
        return []
    return [m for m in Chem.SDMolSupplier(str(path), sanitize=sanitize, removeHs=remove_hs) if m is not None]


def merge_batches(outdir: Path, n_batches: int, sdf_name: str) -> pd.DataFrame:
    """Concatenate the batch files into ``<sdf_name>`` and ``samples.csv`` (atomically)."""
    from molgen.io.sdf import write_sdf

    batch_dir = outdir / "batches"
    frames, mols = [], []
    for b in range(n_batches):
        frames.append(pd.read_csv(batch_dir / f"batch_{b:04d}.csv", keep_default_na=False,
                                  na_values=[""]))
        mols.extend(read_written_sdf(batch_dir / f"batch_{b:04d}.sdf", sanitize=False, remove_hs=False))
    table = pd.concat(frames, ignore_index=True)
    props = [{name: m.GetProp(name) for name in m.GetPropNames()} for m in mols]
    write_sdf(mols, outdir / sdf_name, props=props)
    write_csv_atomic(table, outdir / "samples.csv")
    return table

"""``molgen sample``: load a checkpoint (the bundled one by default) and generate.

Ligands in a pocket (``task=ligand_pocket``): the pocket comes from ``receptor=`` plus one of
``ref_ligand=``, ``residues=``, ``box_center= box_size=``; with no receptor, the bundled demo
pocket. Results land in ``outdir`` (``ligands.sdf``, ``samples.csv``, ``summary.md``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig

from molgen.commands.validate import validate_sample_config
from molgen.errors import MolgenInputError
from molgen.sampling_common import (describe_guides, describe_relaxation, guidance, load_sampling_task,
                                    parse_n_atoms, pose_relaxation, resolve_device, run_with_progress,
                                    sampling_guides, write_summary)

__all__ = ["run"]

log = logging.getLogger(__name__)

LIGAND_BONDS = "repaired"  # ``bonds: null`` for ligands; molecules keep their bonds as predicted
MOLECULE_BONDS = "predicted"


def _pocket(cfg: DictConfig):
    from molgen.io.pocket import read_pocket

    receptor = cfg.receptor
    ref_ligand, residues, box_center = cfg.ref_ligand, cfg.residues, cfg.box_center
    if receptor is None:
        if any(v is not None for v in (ref_ligand, residues, box_center)):
            raise MolgenInputError("receptor=... is required with ref_ligand / residues / box_center")
        receptor, ref_ligand = cfg.task.demo.receptor, cfg.task.demo.ref_ligand
        log.info("no receptor given: using the bundled demo pocket %s", receptor)
    box_size = cfg.box_size if box_center is not None else None
    if box_center is not None:
        box_center = list(box_center)
    return read_pocket(receptor, ref_ligand=ref_ligand, cutoff=float(cfg.cutoff), residues=residues,
                       box_center=box_center, box_size=box_size)


def _job(cfg: DictConfig, outdir: Path):
    from molgen.sampling import SamplingJob

    elements = cfg.get("elements")
    return SamplingJob(outdir=outdir, n_samples=int(cfg.n_samples), n_atoms=parse_n_atoms(cfg.n_atoms),
                       steps=cfg.steps, batch_size=int(cfg.batch_size), seed=int(cfg.seed),
                       largest_fragment=bool(cfg.get("largest_fragment", False)), resume=bool(cfg.resume),
                       resample=int(cfg.get("resample", 1)),
                       allowed_elements=None if elements is None else tuple(str(e) for e in elements))


def _fragment(cfg: DictConfig):
    """The fixed fragment: ``fix_fragment=frag.sdf``, or ``fix_atoms=[...]`` of ``ref_ligand``."""
    from molgen.chem.fragments import fragment_from_atoms
    from molgen.io.sdf import read_ligands

    if cfg.get("fix_fragment"):
        if cfg.get("fix_atoms"):
            raise MolgenInputError("give fix_fragment=... or fix_atoms=..., not both")
        return read_ligands(cfg.fix_fragment)[0]
    if cfg.get("fix_atoms"):
        ref_ligand = cfg.ref_ligand
        if not ref_ligand and cfg.receptor is None:  # the bundled demo complex: its reference ligand
            ref_ligand = cfg.task.demo.ref_ligand
        if not ref_ligand:
            raise MolgenInputError("fix_atoms=[...] picks atoms of ref_ligand=...: give ref_ligand")
        return fragment_from_atoms(read_ligands(ref_ligand)[0], list(cfg.fix_atoms), source=str(ref_ligand))
    return None


def _sample_ligands(cfg: DictConfig, outdir: Path) -> pd.DataFrame:
    from molgen.sampling import run_ligand_sampling

    job = _job(cfg, outdir)
    pocket = _pocket(cfg)
    fragment = _fragment(cfg)
    scoring = _score_settings(cfg, pocket)
    task, sampler, ckpt = load_sampling_task(cfg, resolve_device(str(cfg.device)))
    job.guidance_scale = guidance(task, cfg.get("guidance_scale"))
    steps = job.steps or task.sample_steps
    bonds = str(cfg.get("bonds") or LIGAND_BONDS)
    guides = sampling_guides(task, cfg.get("clash_distance"), cfg.get("join_fragments"),
                             fixed_atoms=fragment is not None)
    relax = pose_relaxation(cfg.get("relax"))
    table, wall = run_with_progress(job, steps, "ligands", lambda cb: run_ligand_sampling(
        task, pocket, job, sampler=sampler, on_step=cb, fragment_mol=fragment, bonds=bonds,
        guides=guides, relax=relax))
    ranked = None
    if scoring is not None:
        from molgen.scoring import ranking_rows, score_and_rank

        n_batches = -(-job.n_samples // job.batch_size)
        table, seconds, n_new = score_and_rank(outdir, n_batches, scoring, resume=job.resume)
        ranked = (scoring, seconds, n_new)
    n = len(table)
    valid = table["valid"].astype(bool)
    rows = [
        ("pocket", f"{Path(pocket.path).name} ({pocket.definition}, {pocket.n_atoms} atoms)"),
        ("checkpoint", str(ckpt)),
        ("sampler", f"{type(sampler or task.sampler).__name__}, {steps} steps"),
        ("pocket guidance", str(job.guidance_scale)),
        *describe_guides(guides),
        describe_relaxation(relax),
        ("generated", str(n)),
        ("valid", f"{int(valid.sum())} ({100 * valid.mean():.0f} %)"),
        ("connected", f"{int((valid & table['connected'].astype(bool)).sum())}"),
        *(_as_predicted_rows(table) if "valid_predicted" in table else []),
        ("mean QED (valid)", f"{table.loc[valid, 'qed'].mean():.3f}" if valid.any() else "-"),
        ("mean SA (valid)", f"{table.loc[valid, 'sa'].mean():.3f}" if valid.any() else "-"),
        *([("fragment intact + valid", f"{int(table['fragment_intact'].astype(bool).sum())}")]
          if "fragment_intact" in table else []),
        ("time", f"{wall:.1f} s ({wall / max(n, 1):.2f} s per ligand)"),
        *(ranking_rows(table, *ranked) if ranked else []),
        ("written", str(outdir / "ligands.sdf")),
    ]
    if ranked:
        from molgen.scoring import top_table

        write_summary(outdir, rows, f"Best five by {ranked[0].rank_by} (the order of ligands.sdf):\n\n"
                      + top_table(table))
    else:
        write_summary(outdir, rows)
    return table


def _as_predicted_rows(table: pd.DataFrame) -> list[tuple[str, str]]:
    """What the model's own bonds gave, before the valence repair, and how many molecules it edited."""
    valid = table["valid_predicted"].fillna(False).astype(bool)
    connected = valid & table["connected_predicted"].fillna(False).astype(bool)
    edited = (pd.to_numeric(table["bond_edits"], errors="coerce").fillna(0) > 0) & table["valid"].astype(bool)
    return [("valid, bonds as predicted", f"{int(valid.sum())} ({100 * valid.mean():.0f} %), {int(connected.sum())} connected"),
            ("valid after a bond repair", f"{int(edited.sum())} (column bond_edits)")]


def _score_settings(cfg: DictConfig, pocket):
    """``score=vina`` (+ ``rank_by``, ``top_k``, ``n_jobs``) as settings, checked before sampling; None
    without ``score``."""
    if not cfg.get("score"):
        return None
    from molgen.scoring import ScoreSettings, check_scoring_tools

    check_scoring_tools(str(cfg.score))
    top_k = cfg.get("top_k")
    return ScoreSettings(receptor=Path(pocket.path), rank_by=str(cfg.get("rank_by", "vina_minimize")),
                         top_k=None if top_k is None else int(top_k), n_jobs=int(cfg.get("n_jobs", 2)))


def _stability_rows(table: pd.DataFrame) -> list[tuple[str, str]]:
    """Stability from the predicted bonds with EDM's distance-based check beside it, or EDM's alone."""
    def pct(col: str, kind=bool) -> str:
        return f"{100 * table[col].astype(kind).mean():.1f} %"

    if "edm_mol_stable" not in table:
        return [("atom stability (EDM)", pct("atom_stable", float)), ("molecule stability (EDM)", pct("mol_stable"))]
    return [("atom stability (predicted bonds)", pct("atom_stable", float)),
            ("molecule stability (predicted bonds)", pct("mol_stable")),
            ("molecule stability (EDM, distances)",
             pct("edm_mol_stable") if table["edm_mol_stable"].notna().any() and
             (table["edm_mol_stable"].astype(str) != "").any() else "n/a (hydrogens implicit)"),
            ("connected (one fragment)", pct("connected"))]


def _sample_molecules(cfg: DictConfig, outdir: Path) -> pd.DataFrame:
    from molgen.sampling import run_molecule_sampling

    job = _job(cfg, outdir)
    task, sampler, ckpt = load_sampling_task(cfg, resolve_device(str(cfg.device)))
    steps = job.steps or task.sample_steps
    table, wall = run_with_progress(job, steps, "molecules",
                                 lambda cb: run_molecule_sampling(task, job, sampler=sampler, on_step=cb,
                                                                  bonds=str(cfg.get("bonds") or MOLECULE_BONDS)))
    n = len(table)
    valid = table["valid"].astype(bool)
    unique = table.loc[valid, "smiles"].nunique()
    write_summary(outdir, [
        ("checkpoint", str(ckpt)),
        ("sampler", f"{type(sampler or task.sampler).__name__}, {steps} steps"),
        ("generated", str(n)),
        *_stability_rows(table),
        ("valid (RDKit)", f"{100 * valid.mean():.1f} %"),
        ("valid and unique", f"{100 * unique / max(n, 1):.1f} %"),
        ("time", f"{wall:.1f} s ({wall / max(n, 1):.3f} s per molecule)"),
        ("written", str(outdir / "molecules.sdf")),
    ])
    return table


def run(cfg: DictConfig) -> pd.DataFrame:
    from hydra.core.hydra_config import HydraConfig

    validate_sample_config(cfg)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    outdir = Path(HydraConfig.get().runtime.output_dir)
    name = str(cfg.task.name)
    if name == "ligand_pocket":
        return _sample_ligands(cfg, outdir)
    if name == "molecule":
        return _sample_molecules(cfg, outdir)
    if name == "backbone":
        from molgen.sampling_backbone import run_backbone
        return run_backbone(cfg, outdir)
    raise MolgenInputError(f"task={name}: sampling is not available for this task")

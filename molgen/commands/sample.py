"""``molgen sample``: load a checkpoint (the bundled one by default) and generate.

Ligands in a pocket (``task=ligand_pocket``): the pocket comes from ``receptor=`` plus one of
``ref_ligand=``, ``residues=``, ``box_center= box_size=``; with no receptor, the bundled demo
pocket. Results land in ``outdir`` (``ligands.sdf``, ``samples.csv``, ``summary.md``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig

from molgen.commands.validate import validate_sample_config
from molgen.errors import MolgenInputError

__all__ = ["run", "resolve_device", "summary_table"]

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cpu`` / ``cuda`` / ``cuda:1`` as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise MolgenInputError(f"device={name}: no CUDA device is available (use device=cpu)")
    if str(name) not in ("cpu",) and not str(name).startswith("cuda"):
        raise MolgenInputError(f"device={name}: allowed values are auto, cpu, cuda, cuda:N")
    return torch.device(name)


def summary_table(rows: list[tuple[str, str]]) -> str:
    """A two-column Markdown table."""
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'':<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


def _load(cfg: DictConfig, device: torch.device):
    from molgen.checkpoint import load_task
    from hydra.utils import instantiate

    ckpt = cfg.ckpt or cfg.task.checkpoint
    task = load_task(ckpt, map_location=device)
    if cfg.task.name != task.export_config.get("task_name", cfg.task.name):
        raise MolgenInputError(f"ckpt={ckpt}: a '{task.export_config.get('task_name')}' checkpoint, "
                               f"but task={cfg.task.name}")
    sampler = instantiate(cfg.sampler) if cfg.get("sampler") else None
    return task, sampler, ckpt


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
    from molgen.sampling import SamplingJob, parse_n_atoms

    elements = cfg.get("elements")
    return SamplingJob(outdir=outdir, n_samples=int(cfg.n_samples), n_atoms=parse_n_atoms(cfg.n_atoms),
                       steps=cfg.steps, batch_size=int(cfg.batch_size), seed=int(cfg.seed),
                       largest_fragment=bool(cfg.get("largest_fragment", False)), resume=bool(cfg.resume),
                       guidance_scale=float(cfg.get("guidance_scale", 1.0)), resample=int(cfg.get("resample", 1)),
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


def _with_progress(job, steps: int, what: str, fn):
    """Run ``fn(on_step)`` under a progress bar over all denoising steps; return (result, seconds)."""
    from tqdm.auto import tqdm

    n_batches = -(-job.n_samples // job.batch_size)
    t0 = time.perf_counter()
    with tqdm(total=n_batches * steps, desc=f"sampling {job.n_samples} {what}", unit="step") as bar:
        result = fn(lambda _: bar.update(1))
    return result, time.perf_counter() - t0


def _finish(outdir: Path, rows: list[tuple[str, str]]) -> None:
    text = summary_table(rows)
    (outdir / "summary.md").write_text(text + "\n")
    print(text)


def _sample_ligands(cfg: DictConfig, outdir: Path) -> pd.DataFrame:
    from molgen.sampling import run_ligand_sampling

    job = _job(cfg, outdir)
    pocket = _pocket(cfg)
    fragment = _fragment(cfg)
    task, sampler, ckpt = _load(cfg, resolve_device(str(cfg.device)))
    steps = job.steps or task.sample_steps
    table, wall = _with_progress(job, steps, "ligands", lambda cb: run_ligand_sampling(
        task, pocket, job, sampler=sampler, on_step=cb, fragment_mol=fragment))
    n = len(table)
    valid = table["valid"].astype(bool)
    rows = [
        ("pocket", f"{Path(pocket.path).name} ({pocket.definition}, {pocket.n_atoms} atoms)"),
        ("checkpoint", str(ckpt)),
        ("sampler", f"{type(sampler or task.sampler).__name__}, {steps} steps"),
        ("generated", str(n)),
        ("valid", f"{int(valid.sum())} ({100 * valid.mean():.0f} %)"),
        ("connected", f"{int((valid & table['connected'].astype(bool)).sum())}"),
        ("mean QED (valid)", f"{table.loc[valid, 'qed'].mean():.3f}" if valid.any() else "-"),
        ("mean SA (valid)", f"{table.loc[valid, 'sa'].mean():.3f}" if valid.any() else "-"),
        *([("fragment intact + valid", f"{int(table['fragment_intact'].astype(bool).sum())}")]
          if "fragment_intact" in table else []),
        ("time", f"{wall:.1f} s ({wall / max(n, 1):.2f} s per ligand)"),
        ("written", str(outdir / "ligands.sdf")),
    ]
    _finish(outdir, rows)
    return table


def _sample_molecules(cfg: DictConfig, outdir: Path) -> pd.DataFrame:
    from molgen.sampling import run_molecule_sampling

    job = _job(cfg, outdir)
    task, sampler, ckpt = _load(cfg, resolve_device(str(cfg.device)))
    steps = job.steps or task.sample_steps
    table, wall = _with_progress(job, steps, "molecules",
                                 lambda cb: run_molecule_sampling(task, job, sampler=sampler, on_step=cb))
    n = len(table)
    valid = table["valid"].astype(bool)
    unique = table.loc[valid, "smiles"].nunique()
    _finish(outdir, [
        ("checkpoint", str(ckpt)),
        ("sampler", f"{type(sampler or task.sampler).__name__}, {steps} steps"),
        ("generated", str(n)),
        ("atom stability (EDM)", f"{100 * table['atom_stable'].astype(float).mean():.1f} %"),
        ("molecule stability (EDM)", f"{100 * table['mol_stable'].astype(bool).mean():.1f} %"),
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
        from molgen.commands.sample_backbone import run_backbone
        return run_backbone(cfg, outdir)
    raise MolgenInputError(f"task={name}: sampling is not available for this task")

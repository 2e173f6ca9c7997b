"""``molgen sample task=backbone``: unconditional backbones or motif scaffolding, PDB + CSV out.

    molgen sample task=backbone length=100 n_samples=8 outdir=out/bb
    molgen sample task=backbone length=50-150 n_samples=20
    molgen sample task=backbone contig=10-20,A5-20,10-20 motif=motif.pdb n_samples=8
    molgen sample task=backbone contig=10-20/A5-20/10-20 motif=motif.pdb   # the same

Per backbone ``<outdir>/backbone_NNNN.pdb`` (and ``.cif`` with ``mmcif=true``), written atomically
as each batch finishes; per batch ``<outdir>/batches/batch_NNNN.csv`` (a batch is done when its CSV
exists: ``resume=true`` skips it); at the end ``samples.csv`` (one row of
:func:`molgen.metrics.backbone.backbone_metrics` per backbone, plus motif RMSD and the peptide
bonds at motif/scaffold junctions when scaffolding) and ``summary.md``, which is also printed.

Lengths: ``length=100`` or a range ``length=50-150`` (uniform per backbone). With ``contig=`` the
contig sets the length (RFdiffusion syntax, :mod:`molgen.protein.contig`) and ``length`` is unused;
the contig's motif segments are read from ``motif=`` (PDB / mmCIF, plain or .gz). Motif residues
keep their residue names and end exactly at the motif file's coordinates (B-factor 1.0 marks
them); generated residues are ``residue=G`` (poly-glycine) or ``A`` (poly-alanine, ideal CB).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from molgen.errors import MolgenInputError
from molgen.io.tables import write_csv_atomic
from molgen.sampling_common import load_sampling_task, parse_length, resolve_device, write_summary

__all__ = ["contig_text", "junction_bonds", "run_backbone"]

log = logging.getLogger(__name__)

_PDB_MAX = 9999.0  # |coordinate| the PDB format's 8.3f columns can hold


def junction_bonds(backbone: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """C(i)-N(i+1) distances (A) of the peptide bonds between a motif and a generated residue."""
    at = np.nonzero(mask[:-1] != mask[1:])[0]
    return np.linalg.norm(backbone[at + 1, 0] - backbone[at, 2], axis=-1)


def contig_text(value: Any) -> str | None:
    """The contig as one string: ``"10-20/A5-20/10-20"``, or a list ``[10-20,A5-20,10-20]`` (what
    Hydra makes of a bracketed override) joined with commas; None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def _layouts(cfg: DictConfig, count: int, rng: np.random.Generator):
    """Per backbone: (length, ContigLayout or None)."""
    contig = contig_text(cfg.get("contig"))
    if contig:
        from molgen.io.chains import read_chains
        from molgen.protein.contig import parse_contig, sample_contig

        segments = parse_contig(contig)
        needs_motif = any(s.kind == "motif" for s in segments)
        if needs_motif and not cfg.get("motif"):
            raise MolgenInputError(f"contig={contig}: motif segments need motif=<PDB or mmCIF file>")
        chains = read_chains(cfg.motif) if needs_motif else []
        return [(lay.length, lay) for lay in (sample_contig(segments, chains, rng) for _ in range(count))]
    if cfg.get("motif"):
        raise MolgenInputError("motif=... needs contig=... saying which residues to keep, "
                               "e.g. contig=10-20/A5-20/10-20")
    lo, hi = parse_length(cfg.length)
    return [(int(n), None) for n in rng.integers(lo, hi, endpoint=True, size=count)]


def _rows(generated, layouts, start: int, outdir: Path, residue: str, mmcif: bool) -> list[dict]:
    from molgen.metrics.backbone import backbone_metrics
    from molgen.protein.contig import motif_rmsd
    from molgen.protein.structure import write_mmcif, write_pdb

    rows = []
    for k, (g, (length, layout)) in enumerate(zip(generated, layouts)):
        name = f"backbone_{start + k:04d}"
        row: dict[str, Any] = {"sample": start + k, "file": "", "length": length, "finite": g.finite,
                               "layout": layout.layout_string() if layout is not None else str(length),
                               "motif_residues": int(g.motif_mask.sum()), "error": ""}
        if not g.finite or np.abs(g.backbone).max() >= _PDB_MAX:
            row["error"] = ("non-finite coordinates in the sampling trajectory" if not g.finite else
                            f"coordinates beyond the PDB format's range (|x| >= {_PDB_MAX:.0f} A): diverged")
            row["finite"] = False
            rows.append(row)
            continue
        seq = layout.sequence(fill=residue) if layout is not None else residue
        kwargs = {"sequence": seq, "motif_mask": g.motif_mask}
        write_pdb(g.backbone, outdir / f"{name}.pdb", **kwargs)
        if mmcif:
            write_mmcif(g.backbone, outdir / f"{name}.cif", structure_id=name, **kwargs)
        row["file"] = f"{name}.pdb"
        if row["motif_residues"]:
            row["motif_rmsd"] = motif_rmsd(g.backbone, layout.motif_backbone, g.motif_mask)
            bonds = junction_bonds(g.backbone, g.motif_mask)
            row["junction_c_n_max"] = float(bonds.max()) if len(bonds) else float("nan")
        row.update({k: v for k, v in backbone_metrics(g.backbone).items() if k != "length"})
        rows.append(row)
    return rows


def _summary(table: pd.DataFrame, cfg: DictConfig, ckpt: str, sampler_text: str, wall: float,
             outdir: Path) -> list[tuple[str, str]]:
    ok = table[table["finite"].astype(bool)]
    n = len(table)

    def pct(col: str) -> str:
        v = ok[col].astype(float).mean() if col in ok and len(ok) else float("nan")
        return "-" if np.isnan(v) else f"{100 * v:.1f} %"

    def num(col: str, fmt: str = ".2f") -> str:
        v = ok[col].astype(float).mean() if col in ok and len(ok) else float("nan")
        return "-" if np.isnan(v) else format(v, fmt)

    lengths = f"{table['length'].min()}-{table['length'].max()}" if n else "-"
    rows = [("checkpoint", str(ckpt)), ("sampler", sampler_text),
            ("generated", f"{n} ({len(ok)} finite), lengths {lengths}")]
    if contig_text(cfg.get("contig")):
        motif = Path(str(cfg.motif)).name if cfg.get("motif") else "-"
        rows.append(("contig", f"{contig_text(cfg.contig)} (motif {motif})"))
    rows += [
        ("CA-CA within 3.8 +- 0.1 A", pct("ca_ca_valid")),
        ("clash-free backbones", f"{100 * (ok['clashes'] == 0).mean():.1f} %" if len(ok) else "-"),
        ("helix / strand / loop", f"{pct('helix')} / {pct('strand')} / {pct('loop')}"),
        ("Rg / natural Rg", num("rg_ratio")),
        ("Ramachandran allowed", pct("rama_allowed")),
        ("right-handed helix share", pct("helix_right_handed")),
    ]
    if "motif_rmsd" in ok:
        rmsd = ok["motif_rmsd"]
        rows.append(("motif RMSD (N, CA, C)", f"mean {rmsd.mean():.2e} A, max {rmsd.max():.2e} A"))
        rows.append(("junction C-N (max per backbone)", f"mean {num('junction_c_n_max')} A"))
    rows += [("time", f"{wall:.1f} s ({wall / max(n, 1):.2f} s per backbone)"), ("written", str(outdir))]
    return rows


def run_backbone(cfg: DictConfig, outdir: Path) -> pd.DataFrame:
    """Sample ``cfg.n_samples`` backbones into ``outdir``; return the per-backbone metrics table."""
    from tqdm.auto import tqdm

    from molgen.sampling import SamplingJob
    from molgen.tasks.backbone import REBUILD_MODES, BackboneMotif

    job = SamplingJob(outdir=outdir, n_samples=int(cfg.n_samples), steps=cfg.steps,
                      batch_size=int(cfg.batch_size), seed=int(cfg.seed), resume=bool(cfg.resume))
    residue = str(cfg.get("residue", "G")).upper()
    if residue not in ("G", "A"):
        raise MolgenInputError(f"residue={cfg.residue}: generated residues are G (poly-glycine) "
                               f"or A (poly-alanine)")
    rebuild = cfg.get("rebuild")
    if rebuild is not None and rebuild not in REBUILD_MODES:
        raise MolgenInputError(f"rebuild={rebuild}: choose one of {', '.join(REBUILD_MODES)}")
    _layouts(cfg, 1, np.random.default_rng(0))  # fail on bad length / contig / motif before loading
    task, sampler, ckpt = load_sampling_task(cfg, resolve_device(str(cfg.device)))
    steps = job.steps or task.sample_steps
    batch_dir = outdir / "batches"
    batch_dir.mkdir(parents=True, exist_ok=True)
    n_batches = -(-job.n_samples // job.batch_size)
    t0 = time.perf_counter()
    with tqdm(total=n_batches * steps, desc=f"sampling {job.n_samples} backbones", unit="step") as bar:
        for b in range(n_batches):
            csv_path = batch_dir / f"batch_{b:04d}.csv"
            if job.resume and csv_path.exists():
                log.info("resume: batch %d already written, skipping", b)
                bar.update(steps)
                continue
            count = min(job.batch_size, job.n_samples - b * job.batch_size)
            layouts = _layouts(cfg, count, np.random.default_rng([job.seed, b]))
            motifs = [None if lay is None or not lay.motif_mask.any()
                      else BackboneMotif(lay.motif_mask, lay.motif_backbone) for _, lay in layouts]
            gen = torch.Generator().manual_seed(job.seed * 100_003 + b)
            tb = time.perf_counter()
            generated = task.generate([n for n, _ in layouts], motifs, steps=steps, sampler=sampler,
                                      generator=gen, rebuild=rebuild, noise_scale=cfg.get("noise_scale"),
                                      progress=lambda _: bar.update(1))
            seconds = (time.perf_counter() - tb) / count
            rows = _rows(generated, layouts, b * job.batch_size, outdir, residue,
                         bool(cfg.get("mmcif", False)))
            for r in rows:
                r["seconds"] = seconds
            write_csv_atomic(pd.DataFrame(rows), csv_path)
    wall = time.perf_counter() - t0
    table = pd.concat([pd.read_csv(batch_dir / f"batch_{b:04d}.csv") for b in range(n_batches)],
                      ignore_index=True)
    write_csv_atomic(table, outdir / "samples.csv")
    sampler_text = f"{type(sampler or task.sampler).__name__}, {steps} steps"
    write_summary(outdir, _summary(table, cfg, str(ckpt), sampler_text, wall, outdir))
    return table

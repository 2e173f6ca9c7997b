"""``molgen data leakage``: the leakage-free training complexes (:mod:`molgen.data.leakage`).

Writes ``<outdir>/manifest.csv`` (one row per pose), prints kept and dropped per source and why.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from molgen.errors import MolgenInputError
from molgen.io.tables import write_csv_atomic

__all__ = ["count_table", "run"]

log = logging.getLogger(__name__)


def count_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Poses and complexes per source: total, kept, dropped for identity / PoseBusters / unreadable."""
    rows = []
    for source, part in manifest.groupby("source", sort=False):
        reason = part["reason"].fillna("")
        kept = part["kept"].astype(str).str.lower() == "true"
        rows.append({
            "source": source, "complexes": part["complex"].nunique(),
            "complexes_kept": part.loc[kept, "complex"].nunique(), "poses": len(part), "kept": int(kept.sum()),
            "dropped_identity": int(reason.str.startswith("identity").sum()),
            "dropped_posebusters": int(reason.str.startswith("PoseBusters").sum()),
            "dropped_unreadable": int(reason.str.startswith("unreadable").sum()),
            "posebusters_not_checked": int(((part["pb_failed"] == "not checked") & kept).sum()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def run(cfg: DictConfig) -> pd.DataFrame:
    from hydra.core.hydra_config import HydraConfig

    from molgen.data.leakage import build_manifest, fep_poses, posebusters_poses, read_test_chains

    outdir = Path(HydraConfig.get().runtime.output_dir)
    test_files = sorted(glob.glob(str(cfg.test_receptors)))
    if not test_files:
        raise MolgenInputError(f"test_receptors={cfg.test_receptors}: no files match")
    readers = {"posebusters": posebusters_poses, "fep": fep_poses}
    poses = []
    for source, root in cfg.sources.items():
        if source not in readers:
            raise MolgenInputError(f"sources.{source}: unknown source (known: {', '.join(readers)})")
        found = readers[source](root)
        if cfg.limit is not None:
            keep = list(dict.fromkeys(p.complex for p in found))[: int(cfg.limit)]
            found = [p for p in found if p.complex in keep]
        poses += found
    start = time.perf_counter()
    test_chains = read_test_chains(test_files)
    log.info("%d test receptor chains from %d files; %d poses to filter", len(test_chains), len(test_files), len(poses))
    manifest = build_manifest(
        poses, test_chains, identity=float(cfg.identity), min_chain_length=int(cfg.min_chain_length),
        posebusters=bool(cfg.posebusters), crop=float(cfg.crop), cache_dir=outdir / "cache",
        max_seconds=cfg.max_seconds, progress=log.info,
    )  # fmt: skip
    if cfg.relative_to:
        root = os.path.abspath(str(cfg.relative_to))
        for column in ("protein", "ligand"):
            manifest[column] = [os.path.relpath(os.path.abspath(p), root) for p in manifest[column]]
    write_csv_atomic(manifest, outdir / "manifest.csv")
    counts = count_table(manifest)
    write_csv_atomic(counts, outdir / "counts.csv")
    print(counts.to_string(index=False))
    print(f"{time.perf_counter() - start:.0f} s; manifest: {outdir / 'manifest.csv'}")
    return manifest

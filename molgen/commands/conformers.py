"""``molgen data conformers``: 3D molecules from a SMILES file (:mod:`molgen.data.conformers`).

Prints a short table (molecules, written, failed and why) and lists the failures in
``<outdir>/failures.csv``. Run it again with the same settings to resume.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from molgen.data.conformers import ConformerRun, build_conformers

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> ConformerRun:
    from hydra.core.hydra_config import HydraConfig

    outdir = HydraConfig.get().runtime.output_dir
    result = build_conformers(
        cfg.smiles, outdir, n_jobs=int(cfg.n_jobs), shard_size=int(cfg.shard_size), seed=int(cfg.seed),
        max_iters=int(cfg.max_iters), timeout=cfg.timeout, prefix=cfg.prefix,
        index_property=str(cfg.index_property), limit=cfg.limit, progress=bool(cfg.progress),
    )  # fmt: skip
    print(result.summary())
    print(f"shards: {outdir}/  failures: {outdir}/failures.csv")
    return result

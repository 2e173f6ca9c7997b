"""``molgen eval``: evaluate SDF files (molecule metrics, and with a receptor Vina and PoseBusters)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, ListConfig

from molgen.errors import MolgenInputError

__all__ = ["run"]


def _paths(value) -> list[str] | str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return str(value)


def run(cfg: DictConfig) -> pd.DataFrame:
    from hydra.core.hydra_config import HydraConfig

    from molgen.evaluate import evaluate, summarize
    from molgen.report import summary_markdown

    if cfg.sdf is None:
        raise MolgenInputError("sdf=...: give an SD file, a folder of SD files, or a list of them")
    if int(cfg.n_jobs) < 1:
        raise MolgenInputError(f"n_jobs={cfg.n_jobs}: must be >= 1")
    outdir = Path(HydraConfig.get().runtime.output_dir)
    receptor = _paths(cfg.receptor)
    reference = None
    if cfg.reference is not None:
        reference = evaluate(_paths(cfg.reference), receptor, n_jobs=int(cfg.n_jobs), vina=bool(cfg.vina),
                             vina_dock=bool(cfg.vina_dock), exhaustiveness=int(cfg.exhaustiveness),
                             seed=int(cfg.seed), posebusters=bool(cfg.posebusters), strain=bool(cfg.strain),
                             progress=False)
    table = evaluate(_paths(cfg.sdf), receptor, reference=reference, n_jobs=int(cfg.n_jobs),
                     vina=bool(cfg.vina), vina_dock=bool(cfg.vina_dock), exhaustiveness=int(cfg.exhaustiveness),
                     seed=int(cfg.seed), posebusters=bool(cfg.posebusters), strain=bool(cfg.strain),
                     outdir=outdir)
    ref_summary = summarize(reference) if reference is not None else None
    print(summary_markdown(summarize(table, reference=reference), reference=ref_summary))
    print(f"\nwritten: {outdir}")
    return table

"""``molgen eval``: evaluate SDF files (molecule metrics, and with a receptor Vina and PoseBusters).

``sdf=`` may also be a manifest (:mod:`molgen.manifest`): a CSV with columns ``ligand,receptor``
or a CrossDocked-layout folder (``ligand_filenames.txt``); each ligand is then evaluated against
its own receptor and ``receptor=`` is not used. The same holds for ``reference=``. Example, the
reference ligands of the CrossDocked test set in one command::

    molgen eval sdf=../shared/data/crossdocked_test outdir=eval/crossdocked_reference
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, ListConfig

from molgen.errors import MolgenInputError

__all__ = ["run"]

log = logging.getLogger(__name__)


def _paths(value) -> list[str] | str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return str(value)


def _receptor_for(inputs, receptor, key: str):
    """``receptor`` for plain inputs; None when ``inputs`` holds manifests (they name receptors)."""
    from molgen.manifest import is_manifest

    listed = [] if inputs is None else [inputs] if isinstance(inputs, str) else inputs
    manifests = [p for p in listed if is_manifest(p)]
    if not manifests:
        return receptor
    if len(manifests) < len(listed):
        raise MolgenInputError(f"{key}=: do not mix manifests {manifests} with plain SD files in one list")
    if receptor is not None:
        log.info("%s= is a manifest: receptors come from it (receptor=%s is not used)", key, receptor)
    return None


def run(cfg: DictConfig) -> pd.DataFrame:
    from hydra.core.hydra_config import HydraConfig

    from molgen.evaluate import evaluate, summarize
    from molgen.report import summary_markdown

    if cfg.sdf is None:
        raise MolgenInputError("sdf=...: give an SD file, a folder of SD files, a list of them, or a "
                               "manifest (CSV with columns ligand,receptor)")
    if int(cfg.n_jobs) < 1:
        raise MolgenInputError(f"n_jobs={cfg.n_jobs}: must be >= 1")
    outdir = Path(HydraConfig.get().runtime.output_dir)
    sdf, ref = _paths(cfg.sdf), _paths(cfg.reference)
    receptor = _paths(cfg.receptor)
    settings = dict(n_jobs=int(cfg.n_jobs), vina=bool(cfg.vina), vina_dock=bool(cfg.vina_dock),
                    exhaustiveness=int(cfg.exhaustiveness), seed=int(cfg.seed),
                    posebusters=bool(cfg.posebusters), strain=bool(cfg.strain),
                    posebusters_timeout=None if cfg.posebusters_timeout is None else float(cfg.posebusters_timeout),
                    receptor_prep=str(cfg.receptor_prep), ligand_prep=str(cfg.ligand_prep),
                    keep_ions=bool(cfg.keep_ions))
    reference = None
    if ref is not None:
        reference = evaluate(ref, _receptor_for(ref, receptor, "reference"), progress=False, **settings)
    table = evaluate(sdf, _receptor_for(sdf, receptor, "sdf"), reference=reference, outdir=outdir, **settings)
    ref_summary = summarize(reference) if reference is not None else None
    print(summary_markdown(summarize(table, reference=reference), reference=ref_summary))
    print(f"\nwritten: {outdir}")
    return table

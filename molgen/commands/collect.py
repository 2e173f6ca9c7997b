"""``molgen collect <sweep_dir>``: one table of a Hydra sweep's jobs and their overrides.

A sweep (``molgen sample -m ...`` or ``molgen train -m ...``) leaves one folder per job, each with
``.hydra/overrides.yaml``. For every job this reads its overrides and its results and makes one
row:

- sampling jobs (``samples.csv``): ``n`` samples, for each true/false column the fraction that is
  true (``valid``, ``connected``, ``mol_stable``, ...), for each numeric column its mean over the
  valid samples (``qed``, ``sa``, ``seconds``, ...), ``errors`` (samples with an error message) and
  ``unique_smiles`` among the valid ones;
- training jobs (``logs/metrics.csv``): the last ``step``, the last value of each logged metric
  (``train/loss``, ``val/loss``, ...) and ``checkpoint`` (the exported ``model.pt``, when written).

A job with neither file (failed, still running) gets ``status=no results``. The table is printed
(overrides that differ between jobs, then the results) and written in full as
``<sweep_dir>/collected.csv`` and ``collected.md``; the samples of every sampling job, each row
tagged with its job and overrides, go to ``collected_samples.csv``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from molgen.errors import MolgenInputError
from molgen.io.atomic import write_atomic
from molgen.io.tables import write_csv_atomic

__all__ = ["main", "collect", "find_jobs", "read_overrides", "job_summary", "markdown_table"]

#: per-sample columns that are identifiers, not results to average
_ID_COLUMNS = {"sample", "index", "batch"}


def find_jobs(sweep_dir: Path) -> list[Path]:
    """Job folders under ``sweep_dir`` (those holding ``.hydra/overrides.yaml``), in job order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise MolgenInputError(f"{sweep_dir}: not a folder (give the sweep folder of a `-m` run)")
    jobs = [p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")]
    jobs = [j for j in jobs if j != sweep_dir]
    if not jobs:
        raise MolgenInputError(f"{sweep_dir}: no job folders (no */.hydra/overrides.yaml); "
                               "is this the sweep folder of a `molgen ... -m` run?")

    def key(job: Path) -> tuple:
        parts = job.relative_to(sweep_dir).parts
        return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)

    return sorted(jobs, key=key)


def read_overrides(job: Path) -> dict[str, str]:
    """``{key: value}`` of a job's command-line overrides (``+key=v`` and ``~key`` included)."""
    path = job / ".hydra" / "overrides.yaml"
    try:
        items = yaml.safe_load(path.read_text()) or []
    except (OSError, yaml.YAMLError) as exc:
        raise MolgenInputError(f"{path}: cannot read the job's overrides ({exc})") from exc
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        out[key.lstrip("+")] = value if sep else "(deleted)"
    return out


def _as_bool(series: pd.Series) -> pd.Series | None:
    """The column as booleans when it holds only true/false values, else None."""
    if series.dtype == bool:
        return series
    values = set(series.dropna().astype(str).str.lower().unique())
    if values and values <= {"true", "false"}:
        return series.astype(str).str.lower() == "true"
    return None


def _sample_results(table: pd.DataFrame) -> dict[str, Any]:
    """Per-job aggregate of a ``samples.csv``."""
    row: dict[str, Any] = {"n": len(table)}
    valid = _as_bool(table["valid"]) if "valid" in table else None
    for col in table.columns:
        if col in _ID_COLUMNS:
            continue
        if col == "error":
            row["errors"] = int(table[col].fillna("").astype(str).str.len().gt(0).sum())
            continue
        flags = _as_bool(table[col])
        if flags is not None:
            row[col] = float(flags.mean()) if len(flags) else math.nan
        elif pd.api.types.is_numeric_dtype(table[col]) and table[col].notna().any():
            values = table.loc[valid, col] if valid is not None and col not in ("n_atoms",) else table[col]
            row[col] = float(values.mean()) if values.notna().any() else math.nan
    if "smiles" in table and valid is not None:
        smiles = table.loc[valid, "smiles"].dropna().astype(str)
        row["unique_smiles"] = int(smiles[smiles != ""].nunique())
    return row


def _train_results(job: Path, metrics: pd.DataFrame) -> dict[str, Any]:
    """Per-job summary of a Lightning ``metrics.csv``: last step, last value of each metric."""
    row: dict[str, Any] = {}
    if "step" in metrics and metrics["step"].notna().any():
        row["step"] = int(metrics["step"].max())
    for col in metrics.columns:
        if col in ("step", "epoch"):
            continue
        values = metrics[col].dropna()
        if len(values):
            row[col] = float(values.iloc[-1])
    model = job / "model.pt"
    row["checkpoint"] = str(model) if model.is_file() else ""
    return row


def job_summary(job: Path) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """``(row, samples)`` of one job: its results row and its per-sample table (None if none)."""
    samples_csv, metrics_csv = job / "samples.csv", job / "logs" / "metrics.csv"
    if samples_csv.is_file():
        samples = pd.read_csv(samples_csv, keep_default_na=False, na_values=[""])
        return {"status": "done", **_sample_results(samples)}, samples
    if metrics_csv.is_file():
        row = _train_results(job, pd.read_csv(metrics_csv))
        return {"status": "done" if row["checkpoint"] else "no model.pt", **row}, None
    return {"status": "no results"}, None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``df`` (floats with 4 significant digits)."""
    cols = [str(c) for c in df.columns]
    cells = [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max([len(c), 3, *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines)


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect a sweep: ``(jobs, samples)``, one row per job and one per generated sample.

    Writes ``collected.csv``, ``collected.md`` and (when any job sampled) ``collected_samples.csv``
    into ``sweep_dir``.
    """
    sweep_dir = Path(sweep_dir)
    rows, frames = [], []
    override_keys: dict[str, None] = {}
    result_keys: dict[str, None] = {}
    for job in find_jobs(sweep_dir):
        name = job.relative_to(sweep_dir).as_posix()
        overrides = read_overrides(job)
        results, samples = job_summary(job)
        overrides = {(f"{k} (override)" if k in results or k == "job" else k): v for k, v in overrides.items()}
        override_keys.update(dict.fromkeys(overrides))
        result_keys.update(dict.fromkeys(results))
        rows.append({**overrides, **results, "job": name})
        if samples is not None:
            frames.append(samples.assign(job=name, **{k: v for k, v in overrides.items() if k not in samples}))
    jobs = pd.DataFrame(rows)[["job", *override_keys, *result_keys]]
    write_csv_atomic(jobs, sweep_dir / "collected.csv")
    write_atomic(sweep_dir / "collected.md", markdown_table(jobs) + "\n")
    samples_all = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frames:
        first = ["job", *(k for k in override_keys if k in samples_all)]
        samples_all = samples_all[first + [c for c in samples_all.columns if c not in first]]
        write_csv_atomic(samples_all, sweep_dir / "collected_samples.csv")
    return jobs, samples_all


def varying_columns(jobs: pd.DataFrame) -> pd.DataFrame:
    """``jobs`` without the override columns (those before ``status``) equal in every job."""
    cols = list(jobs.columns)
    first_result = cols.index("status") if "status" in cols else len(cols)
    keep = [c for i, c in enumerate(cols)
            if c == "job" or i >= first_result or jobs[c].astype(str).nunique() > 1]
    return jobs[keep]


def main(args: Sequence[str] | None = None) -> None:
    """``molgen collect SWEEP_DIR [--all]``: print and write the sweep's collected table."""
    parser = argparse.ArgumentParser(
        prog="molgen collect",
        description="Merge the results and overrides of every job of a Hydra sweep (-m) into one table: "
                    "SWEEP_DIR/collected.csv, collected.md and collected_samples.csv.")
    parser.add_argument("sweep_dir", type=Path, help="the sweep folder (sample: outdir=...; train: multirun/...)")
    parser.add_argument("--all", action="store_true",
                        help="print every override column, also those equal in all jobs")
    ns = parser.parse_args(list(sys.argv[1:] if args is None else args))
    try:
        jobs, samples = collect(ns.sweep_dir)
    except MolgenInputError as exc:
        sys.exit(f"molgen collect: error: {exc}")
    shown = jobs if ns.all else varying_columns(jobs)
    print(markdown_table(shown))
    written = [ns.sweep_dir / "collected.csv", ns.sweep_dir / "collected.md"]
    if len(samples):
        written.append(ns.sweep_dir / "collected_samples.csv")
    print(f"\n{len(jobs)} jobs; wrote " + ", ".join(str(p) for p in written))

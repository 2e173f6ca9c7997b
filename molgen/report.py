"""Evaluation summary and report: one-row summary of an evaluation table; per-molecule CSV, summary CSV + Markdown table, PNG plots (matplotlib Agg).

Files written to ``outdir``:

* ``molecules.csv``: the :func:`molgen.evaluate.evaluate` table;
* ``summary.csv`` / ``summary.md``: :func:`molgen.evaluate.summarize` (with the reference's
  summary beside it when a reference is given);
* ``properties.png``: QED, SA, Vina score and Vina dock histograms, the reference's
  distribution overlaid (or its mean as a line);
* ``posebusters.png``: pass rate of each PoseBusters check and PB-valid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgen.io.atomic import write_atomic

__all__ = ["SUMMARY_STATS", "summarize", "summary_markdown", "write_report"]

SUMMARY_STATS = ("qed", "sa", "sa_raw", "logp", "lipinski", "n_heavy_atoms", "vina_score",
                 "vina_minimize", "vina_dock", "clashes", "strain_energy")
"""Per-molecule columns whose mean and median go into the summary."""

_PLOTTED = (("qed", "QED"), ("sa", "SA (normalised)"), ("vina_score", "Vina score (kcal/mol)"),
            ("vina_dock", "Vina dock (kcal/mol)"))


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def summary_markdown(summary: pd.DataFrame, reference: pd.DataFrame | None = None) -> str:
    """Markdown table, one metric per line (``| metric | molgen | reference |``)."""
    row = summary.to_dict("records")[0]
    ref = reference.to_dict("records")[0] if reference is not None and len(reference) else None
    head = "| metric | value |" + (" reference |" if ref is not None else "")
    sep = "|---|---:|" + ("---:|" if ref is not None else "")
    lines = [head, sep]
    for key, value in row.items():
        cells = [str(key), _fmt(value)]
        if ref is not None:
            cells.append(_fmt(ref.get(key, float("nan"))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot_properties(df: pd.DataFrame, reference: pd.DataFrame | None, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = [(c, label) for c, label in _PLOTTED if c in df and df[c].notna().any()]
    if not cols:
        return False
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3.2), squeeze=False)
    for ax, (col, label) in zip(axes[0], cols):
        values = pd.to_numeric(df[col], errors="coerce").dropna()
        ax.hist(values, bins=20, alpha=0.7, label=f"molgen (mean {values.mean():.2f})", density=True)
        if reference is not None and col in reference and reference[col].notna().any():
            ref = pd.to_numeric(reference[col], errors="coerce").dropna()
            if len(ref) > 1:
                ax.hist(ref, bins=20, alpha=0.5, density=True, label=f"reference (mean {ref.mean():.2f})")
            ax.axvline(ref.mean(), color="k", linestyle="--", linewidth=1)
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plot_posebusters(df: pd.DataFrame, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = [c for c in df.columns if c.startswith("pb_") and df[c].notna().any()]
    if not cols:
        return False
    rates = {c[3:]: float(df.loc[df[c].notna(), c].astype(bool).mean()) for c in cols}
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rates) + 1.2))
    names = list(rates)[::-1]
    ax.barh(names, [rates[n] for n in names],
            color=["tab:green" if n == "valid" else "tab:blue" for n in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("pass rate")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_report(
    df: pd.DataFrame,
    outdir: str | os.PathLike,
    *,
    reference: pd.DataFrame | None = None,
    training_smiles: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Write the report files (module docstring) and return their paths by kind."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"molecules": out / "molecules.csv", "summary": out / "summary.csv",
             "markdown": out / "summary.md"}
    training = list(training_smiles) if training_smiles is not None else None
    summary = summarize(df, reference=reference, training_smiles=training)
    ref_summary = summarize(reference) if reference is not None else None
    write_atomic(paths["molecules"], df.to_csv(index=False))
    table = summary if ref_summary is None else pd.concat(
        [summary.assign(set="molgen"), ref_summary.assign(set="reference")], ignore_index=True)
    write_atomic(paths["summary"], table.to_csv(index=False))
    write_atomic(paths["markdown"], summary_markdown(summary, ref_summary))
    if _plot_properties(df, reference, out / "properties.png"):
        paths["properties_plot"] = out / "properties.png"
    if _plot_posebusters(df, out / "posebusters.png"):
        paths["posebusters_plot"] = out / "posebusters.png"
    return paths


def summarize(
    df: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    training_smiles: Iterable[str] | None = None,
) -> pd.DataFrame:
    """One-row summary of an :func:`evaluate` table.

    Set metrics (validity, connectivity, uniqueness, novelty, internal diversity, atom/bond type
    distances to ``reference``'s SMILES), mean and median of each property over valid molecules,
    share of molecules with a ring of size 3..8, PoseBusters pass rates, and ``high_affinity``:
    share of molecules whose ``vina_dock`` <= the reference's ``vina_dock`` for the same receptor
    (mean over the reference's molecules of that receptor), among molecules with both values.
    """
    from molgen.metrics.molecule import molecule_metrics

    valid = df[df["valid"].fillna(False).astype(bool)] if "valid" in df else df.iloc[:0]
    smiles_all = [s if isinstance(s, str) else None for s in df.get("smiles", [None] * len(df))]
    ref_smiles = None
    if reference is not None and "smiles" in reference:
        ref_smiles = [s for s in reference["smiles"] if isinstance(s, str)]
    out: dict[str, Any] = molecule_metrics(smiles_all, reference=ref_smiles,
                                           training_smiles=training_smiles)
    if "connected" in df:
        out["connectivity"] = float(df["connected"].fillna(False).astype(bool).mean()) if len(df) else 0.0
    for col in SUMMARY_STATS:
        if col in valid and valid[col].notna().any():
            values = pd.to_numeric(valid[col], errors="coerce")
            out[f"{col}_mean"] = float(values.mean())
            out[f"{col}_median"] = float(values.median())
    for k in range(3, 9):
        col = f"ring_{k}"
        if col in valid and len(valid):
            out[f"ring_{k}_frac"] = float((valid[col].fillna(0) > 0).mean())
    for col in [c for c in df.columns if c.startswith("pb_")]:
        values = df.loc[df[col].notna(), col].astype(bool)
        if len(values):
            out[f"{col}_rate"] = float(values.mean())
    out["n_errors"] = int(df["error"].notna().sum()) if "error" in df else 0
    out["high_affinity"] = _high_affinity(df, reference)
    return pd.DataFrame([out])


def _high_affinity(df: pd.DataFrame, reference: pd.DataFrame | None) -> float:
    if reference is None or "vina_dock" not in df or "vina_dock" not in reference:
        return float("nan")
    ref = reference.dropna(subset=["vina_dock"])
    if "receptor" in ref and ref["receptor"].notna().any() and "receptor" in df:
        ref_by_rec: Mapping[Any, float] = ref.groupby("receptor")["vina_dock"].mean().to_dict()
        target = df["receptor"].map(ref_by_rec)
    elif len(ref):
        target = pd.Series(float(ref["vina_dock"].mean()), index=df.index)
    else:
        return float("nan")
    ok = df["vina_dock"].notna() & target.notna()
    return float((df.loc[ok, "vina_dock"] <= target[ok]).mean()) if ok.any() else float("nan")

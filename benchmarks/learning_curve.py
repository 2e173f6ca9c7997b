"""Learning curve of a training run: validation sample quality against training hours.

    python benchmarks/learning_curve.py outputs/train/molecule/<run>/csv/version_0/metrics.csv \
        --png docs/results/learning_curve_molecule.png --csv docs/results/learning_curve_molecule.csv

Reads the ``metrics.csv`` of ``molgen train`` (its ``TrainingClock`` logs ``val/hours``), prints one
row per validation (hours, step, validation loss and the ``val/*`` sample metrics the task logs, e.g.
molecule stability from predicted bonds), writes them as CSV and plots every sample metric against
hours. Several files (a run and its resumes in other folders) are joined in order, their hours added.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

LOSS = "val/loss"


def read_curve(paths: list[Path]) -> pd.DataFrame:
    """Validation rows of one or more ``metrics.csv`` files, hours cumulative across files."""
    frames, offset_h, offset_step = [], 0.0, 0
    for path in paths:
        df = pd.read_csv(path)
        if "val/hours" not in df:
            raise SystemExit(f"{path}: no val/hours column (trained without the TrainingClock callback)")
        val = df[df["val/hours"].notna()].copy()
        val["hours"] = val["val/hours"] + offset_h
        val["step"] = val["step"] + offset_step
        frames.append(val)
        if len(val):
            offset_h, offset_step = float(val["hours"].iloc[-1]), int(val["step"].iloc[-1])
    out = pd.concat(frames, ignore_index=True)
    metrics = [c for c in out.columns if c.startswith("val/") and c not in ("val/hours",)
               and not c.startswith("val/loss_")]
    return out[["hours", "step", *metrics]].reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics", type=Path, nargs="+")
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args(argv)
    curve = read_curve(args.metrics)
    print("| " + " | ".join(curve.columns) + " |")
    print("|" + "---|" * len(curve.columns))
    for row in curve.itertuples(index=False):
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        curve.to_csv(args.csv, index=False)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        sample = [c for c in curve.columns if c.startswith("val/") and c != LOSS]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for c in sample:
            ax1.plot(curve["hours"], 100 * curve[c], marker=".", label=c.removeprefix("val/"))
        ax1.set(xlabel="training hours", ylabel="% of validation samples", ylim=(0, 100))
        ax1.legend(fontsize=8)
        if LOSS in curve:
            ax2.plot(curve["hours"], curve[LOSS], marker=".")
            ax2.set(xlabel="training hours", ylabel="validation loss")
        fig.tight_layout()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=120)


if __name__ == "__main__":
    main()

"""Reproduce the published CrossDocked test-set reference scores with ``molgen.evaluate``.

Evaluates the reference ligands (first ``--n`` rows of ``reference/crossdocked_test_reference.csv``)
with their receptors and prints, per metric, our mean, the published mean over the same ligands
and the mean absolute per-ligand difference.

    nice python benchmarks/eval_crossdocked_reference.py --n 10 --exhaustiveness 8 --n-jobs 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from molgen.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10, help="how many reference ligands (from the top)")
    parser.add_argument("--exhaustiveness", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-dock", action="store_true")
    parser.add_argument("--no-posebusters", action="store_true")
    parser.add_argument("--outdir", default=None)
    args = parser.parse_args()

    ref = pd.read_csv(DATA / "reference" / "crossdocked_test_reference.csv").head(args.n)
    root = DATA / "crossdocked_test"
    ligands = [root / f for f in ref["ligand_filename"]]
    receptors = [root / Path(f).parent / (Path(f).name[:10] + ".pdb") for f in ref["ligand_filename"]]
    df = evaluate(ligands, receptors, n_jobs=args.n_jobs, vina_dock=not args.no_dock,
                  exhaustiveness=args.exhaustiveness, posebusters=not args.no_posebusters,
                  outdir=args.outdir)
    pairs = [("vina_score", "vina_score"), ("vina_minimize", "vina_min"), ("vina_dock", "vina_dock"),
             ("qed", "qed"), ("sa", "sa")]
    print(f"{'metric':<14}{'molgen':>10}{'published':>11}{'mean|diff|':>12}{'max|diff|':>11}")
    for ours, theirs in pairs:
        if ours not in df:
            continue
        diff = (df[ours].to_numpy(dtype=float) - ref[theirs].to_numpy(dtype=float))
        print(f"{ours:<14}{df[ours].mean():>10.3f}{ref[theirs].mean():>11.3f}"
              f"{abs(diff).mean():>12.3f}{abs(diff).max():>11.3f}")
    errors = df["error"].dropna()
    print(f"{len(errors)} molecules with errors" + (f": {errors.tolist()}" if len(errors) else ""))


if __name__ == "__main__":
    main()

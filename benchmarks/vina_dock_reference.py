"""Vina dock of the CrossDocked2020 test reference ligands, against TargetDiff's published values.

    OMP_NUM_THREADS=1 python benchmarks/vina_dock_reference.py                 # all 100, hours
    OMP_NUM_THREADS=1 python benchmarks/vina_dock_reference.py --n 20          # a random 20
    OMP_NUM_THREADS=1 python benchmarks/vina_dock_reference.py --jobs 2        # two ligands at a time
    OMP_NUM_THREADS=1 python benchmarks/vina_dock_reference.py --skip 21       # from the 22nd ligand on

Docks the reference ligands one at a time (``molgen.evaluate.evaluate`` with ``vina_dock=True``,
the ``molgen eval`` settings: pdb2pqr receptor, box = ligand extent + 5 A, exhaustiveness 16) in a
fixed random order (``--seed``), appending each result to ``<out>/dock.csv`` as it finishes. A
stopped run keeps every ligand it docked and resumes with the next one, and any stretch of the order
(the first N; or from the (K+1)-th on, ``--skip K``, to leave out those an earlier run docked) is a
uniform random sample of the 100, so a partial run still estimates the mean. Prints the mean and
median of molgen's and the published Vina dock (and score, minimize) over the docked ligands, and
per-ligand agreement.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# ours -> published
METRICS = {"vina_dock": "vina_dock", "vina_score": "vina_score", "vina_minimize": "vina_min"}


def docking_order(root: Path, seed: int) -> list[tuple[str, str, str]]:
    """``(ligand_filename, ligand path, receptor path)`` of the CrossDocked folder in a seeded order."""
    from molgen.manifest import read_manifest

    pairs = read_manifest(root)
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [(Path(pairs[k][0]).resolve().relative_to(root.resolve()).as_posix(), *pairs[k]) for k in order]


def agreement(done: pd.DataFrame, published: pd.DataFrame) -> list[str]:
    """Markdown rows: ours vs published over the ligands in ``done`` (indexed by ligand_filename)."""
    joined = done.join(published.add_suffix("_published"), how="inner")
    rows = ["| metric | ligands | molgen mean / median | published mean / median | median abs diff "
            "| within 0.5 / 1.0 |", "|---|---|---|---|---|---|"]
    for ours, pub in METRICS.items():
        pair = joined[[ours, f"{pub}_published"]].dropna()
        a, b = pair.iloc[:, 0], pair.iloc[:, 1]
        diff = (a - b).abs()
        within = f"{(diff <= 0.5).sum()} / {(diff <= 1.0).sum()}"
        rows.append(f"| {ours} | {len(pair)} | {a.mean():.3f} / {a.median():.3f} | {b.mean():.3f} / "
                    f"{b.median():.3f} | {diff.median():.3f} | {within} |")
    return rows


def dock_one(name: str, ligand: str, receptor: str, exhaustiveness: int) -> dict:
    """One reference ligand through ``evaluate`` with Vina dock: the row appended to dock.csv."""
    from molgen.evaluate import evaluate

    t0 = time.perf_counter()
    row = evaluate(ligand, receptor, n_jobs=1, vina_dock=True, exhaustiveness=exhaustiveness,
                   posebusters=False, strain=False, progress=False).iloc[0]
    return {"ligand_filename": name, "seconds": time.perf_counter() - t0,
            **{k: row.get(k, np.nan) for k in METRICS}, "error": row.get("error")}


def docked(todo: list[tuple[str, str, str]], exhaustiveness: int, jobs: int):
    """Yield ``dock_one`` rows as ligands finish: in this process, or ``jobs`` processes at once."""
    if jobs <= 1:
        for job in todo:
            yield dock_one(*job, exhaustiveness)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(dock_one, *job, exhaustiveness) for job in todo]):
            yield future.result()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="shared data folder")
    parser.add_argument("--out", type=Path, default=Path("out/benchmarks/vina_dock_reference"))
    parser.add_argument("--n", type=int, default=100, help="dock the first N ligands of the order")
    parser.add_argument("--exhaustiveness", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="order of the ligands")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first K ligands of the order")
    parser.add_argument("--jobs", type=int, default=1, help="ligands docked at once, one process each")
    args = parser.parse_args(argv)

    from molgen.io.tables import write_csv_atomic

    root = args.data / "crossdocked_test"
    published = pd.read_csv(args.data / "reference" / "crossdocked_test_reference.csv").set_index(
        "ligand_filename")
    csv = args.out / "dock.csv"
    done = pd.read_csv(csv) if csv.is_file() else pd.DataFrame()
    finished = set(done.get("ligand_filename", []))
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [job for job in docking_order(root, args.seed)[args.skip: args.n] if job[0] not in finished]
    for entry in docked(todo, args.exhaustiveness, args.jobs):
        done = pd.concat([done, pd.DataFrame([entry])], ignore_index=True)
        write_csv_atomic(done, csv)  # every docked ligand is kept, whatever happens next
        name = entry["ligand_filename"]
        print(f"{len(done):3d} {name}: dock {entry['vina_dock']:.3f} (published "
              f"{published.loc[name, 'vina_dock']:.3f}), {entry['seconds']:.0f} s", flush=True)
    if done.empty:
        print("nothing docked")
        return
    print(f"\n# Vina dock, exhaustiveness {args.exhaustiveness}, {len(done)} of 100 reference ligands "
          f"(order seed {args.seed}), {done['seconds'].sum() / 60:.0f} min of 1-thread processes\n")
    print("\n".join(agreement(done.set_index("ligand_filename"), published)))


if __name__ == "__main__":
    main()

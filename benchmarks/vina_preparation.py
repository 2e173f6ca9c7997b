"""Vina preparations (receptor x ligand) on the 100 CrossDocked2020 test reference ligands.

    OMP_NUM_THREADS=1 python benchmarks/vina_preparation.py [--data DIR] [--out DIR] [--setups R:L ...]

Scores every reference ligand as posed (Vina score) and after local minimisation with each setup
``RECEPTOR:LIGAND``: a receptor preparation of :func:`molgen.chem.docking.prepare_receptor_pdbqt`
(``pdb2pqr``, ``meeko``) and a ligand preparation of :func:`molgen.chem.docking.prepare_ligand_pdbqt`
(``legacy``, ``meeko``); no docking. Compares per ligand with TargetDiff's published values
(``reference/crossdocked_test_reference.csv``). Prints one table and the ligands off by more than
0.5 kcal/mol; writes ``<out>/<receptor>_<ligand>.csv``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from molgen.chem.docking import LIGAND_PROTOCOLS, RECEPTOR_PROTOCOLS
from molgen.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COLUMNS = {"vina_score": "published_vina_score", "vina_minimize": "published_vina_min"}  # ours -> published


def compare(table: pd.DataFrame, published: pd.DataFrame, root: Path) -> pd.DataFrame:
    """``table`` (an ``evaluate`` result) joined with the published rows by ligand filename."""
    key = table["source"].map(lambda s: Path(s).resolve().relative_to(root.resolve()).as_posix())
    ours = table.assign(ligand_filename=key).set_index("ligand_filename")
    return ours[list(COLUMNS)].join(published.add_prefix("published_")[list(COLUMNS.values())], how="inner")


def summary(joined: pd.DataFrame) -> list[str]:
    rows = []
    for ours, pub in COLUMNS.items():
        diff = (joined[ours] - joined[pub]).abs()
        rows.append(f"| {ours} | {joined[ours].mean():.3f} / {joined[ours].median():.3f} | "
                    f"{joined[pub].mean():.3f} / {joined[pub].median():.3f} | {diff.median():.3f} | "
                    f"{(diff <= 0.1).sum()} / {(diff <= 0.5).sum()} |")
    return rows


def setup(text: str) -> tuple[str, str]:
    """``"pdb2pqr:legacy"`` -> ``("pdb2pqr", "legacy")``, checked against the known preparations."""
    receptor, _, ligand = text.partition(":")
    if receptor not in RECEPTOR_PROTOCOLS or ligand not in LIGAND_PROTOCOLS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected RECEPTOR:LIGAND with RECEPTOR in {RECEPTOR_PROTOCOLS} and LIGAND in "
            f"{LIGAND_PROTOCOLS}")
    return receptor, ligand


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="shared data folder")
    parser.add_argument("--out", type=Path, default=Path("out/benchmarks/vina_preparation"))
    parser.add_argument("--setups", nargs="+", type=setup, default=[setup("pdb2pqr:legacy")],
                        help="RECEPTOR:LIGAND preparations, e.g. pdb2pqr:legacy pdb2pqr:meeko meeko:meeko")
    parser.add_argument("--reuse", action="store_true", help="read the CSVs of an earlier run in --out")
    args = parser.parse_args(argv)
    root = args.data / "crossdocked_test"
    published = pd.read_csv(args.data / "reference" / "crossdocked_test_reference.csv").set_index(
        "ligand_filename")
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| receptor:ligand | metric | ours mean / median | published mean / median | median abs diff "
             "| within 0.1 / 0.5 |", "|---|---|---|---|---|---|"]
    outliers = []
    for receptor, ligand in args.setups:
        protocol = f"{receptor}:{ligand}"
        csv = args.out / f"{receptor}_{ligand}.csv"
        if args.reuse and csv.is_file():
            table, took = pd.read_csv(csv), "earlier run"
        else:
            with tempfile.TemporaryDirectory() as cache:  # fresh receptor cache: time includes preparation
                t0 = time.perf_counter()
                table = evaluate(root, n_jobs=1, vina_dock=False, posebusters=False, strain=False,
                                 receptor_prep=receptor, ligand_prep=ligand, cache_dir=cache,
                                 progress=False)
                took = f"{(time.perf_counter() - t0) / 60:.1f} min"
            table.to_csv(csv, index=False)
        joined = compare(table, published, root)
        lines += [f"| {protocol} ({len(joined)} ligands, {took}) |" + r[1:] for r in summary(joined)]
        diffs = pd.concat([(joined[o] - joined[p]).abs() for o, p in COLUMNS.items()], axis=1)
        off = diffs.max(axis=1) > 0.5
        outliers += [f"{protocol}: {name}: score {r.vina_score:.3f} (published "
                     f"{r.published_vina_score:.3f}), minimize {r.vina_minimize:.3f} (published "
                     f"{r.published_vina_min:.3f})"
                     for name, r in joined[off].iterrows()]
    print("\n".join(lines))
    print("\noff by more than 0.5 kcal/mol (score or minimize):")
    print("\n".join(outliers) or "none")


if __name__ == "__main__":
    main()

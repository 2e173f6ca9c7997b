"""QM9 benchmark: sample molecules with a checkpoint, score them exactly as EDM does.

    python benchmarks/qm9.py --quick                 # 100 molecules, a minute
    python benchmarks/qm9.py --n 10000 --steps 200   # the table in docs/benchmarks.md

Prints atom stability, molecule stability, RDKit validity, valid*unique and novelty (against the
training split) beside the published rows, with the step count and the time per molecule.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "qm9" / "qm9_hcno.xyz.gz"

# name, atom stable, mol stable, valid, valid*unique, steps (None: not reported)
PUBLISHED = [
    ("QM9 data (EDM paper)", 99.0, 95.2, 97.7, None, "-"),
    ("EDM (Hoogeboom 2022)", 98.7, 82.0, 91.9, 90.7, "1000"),
    ("GeoLDM (Xu 2023)", 98.9, 89.4, 93.8, 92.7, "1000"),
    ("EquiFM (Song 2023)", 98.9, 88.3, 94.7, None, "200"),
    ("SemlaFlow (Irwin 2024)", 99.9, 99.7, 99.4, None, "100"),
]


def fmt(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 molecules, 50 steps")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--sampler", choices=["ddpm", "ddim", "ode"], default="ddpm")
    ap.add_argument("--ckpt", default=None, help="default: the bundled data/checkpoints/molecule.pt")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="QM9 for novelty (skipped if absent)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.steps = 100, 50
    torch.set_num_threads(args.threads)

    from molgen.api import load_model
    from molgen.bench.qm9 import sample_and_score
    from molgen.diffusion.samplers import SAMPLERS

    task = load_model(args.ckpt, task="molecule")
    reference = None
    if args.source.is_file():
        from molgen.config import REPO_ROOT
        from molgen.data.datasets.qm9 import QM9Dataset

        reference = QM9Dataset(args.source, "train", cache_dir=REPO_ROOT / ".cache" / "qm9").smiles_set()
    run = sample_and_score(task, args.n, steps=args.steps, sampler=SAMPLERS[args.sampler](),
                           batch_size=args.batch_size, seed=args.seed, reference_smiles=reference)
    m, wall, n_failed, n_total = run.metrics, run.seconds, run.n_failed, run.metrics.n_molecules
    print(f"# QM9, {n_total} molecules, {args.sampler} {args.steps} steps, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| model | atom stable % | mol stable % | valid % | valid*unique % | novel % | steps | s / molecule |")
    print("|---|---|---|---|---|---|---|---|")
    for name, a, mo, v, vu, st in PUBLISHED:
        print(f"| {name} | {fmt(a)} | {fmt(mo)} | {fmt(v)} | {fmt(vu)} | - | {st} | - |")
    vu = 100 * m.n_unique / max(n_total, 1)
    nov = "-" if m.novelty is None else f"{100 * m.novelty:.1f}"
    print(f"| **molgen** ({Path(args.ckpt).name if args.ckpt else 'bundled'}) | {100 * m.atom_stability:.1f} | "
          f"{100 * m.molecule_stability:.1f} | {100 * m.validity:.1f} | {vu:.1f} | {nov} | {args.steps} | "
          f"{wall / n_total:.3f} |")
    if n_failed:
        print(f"\n{n_failed} samples had non-finite coordinates and count as unstable/invalid")


if __name__ == "__main__":
    main()

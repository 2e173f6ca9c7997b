"""QM9 benchmark: sample molecules with a checkpoint and score them.

    python benchmarks/qm9.py --quick                       # 100 molecules at 20 steps, a minute
    python benchmarks/qm9.py --n 10000 --steps 20 50 100   # the table in docs/benchmarks.md

For every model: EDM's atom and molecule stability (bonds from distances, EDM's tables), RDKit
validity, valid*unique and novelty (against the training split). For a model that predicts bonds
(task ``BondMoleculeTask``) also, side by side, stability from the predicted bonds and charges
(MiDi's / SemlaFlow's definition), validity and connectivity (one fragment) of the molecule built
from the predicted bonds. Published rows beside them; one row per step count.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "qm9" / "qm9_hcno.xyz.gz"

# name, stability from, atom stable, mol stable, valid, valid*unique, steps (None: not reported)
PUBLISHED = [
    ("QM9 data (EDM paper)", "distances", 99.0, 95.2, 97.7, None, "-"),
    ("EDM (Hoogeboom 2022)", "distances", 98.7, 82.0, 91.9, 90.7, "1000"),
    ("GeoLDM (Xu 2023)", "distances", 98.9, 89.4, 93.8, 92.7, "1000"),
    ("EquiFM (Song 2023)", "distances", 98.9, 88.3, 94.7, None, "200"),
    ("MiDi (Vignac 2023)", "bonds", 99.8, 97.5, 97.9, None, "500"),
    ("FlowMol (Dunn 2024)", "bonds", 99.7, 96.2, 97.3, None, "250"),
    ("SemlaFlow (Irwin 2024)", "bonds", 99.9, 99.7, 99.4, None, "100"),
]


def fmt(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 molecules at 20 steps")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--steps", type=int, nargs="+", default=[100])
    ap.add_argument("--sampler", choices=["ddpm", "ddim", "ode"], default=None,
                    help="default: the checkpoint's own (ddpm for atoms-only EDM-style models)")
    ap.add_argument("--ckpt", default=None, help="default: the bundled data/checkpoints/molecule.pt")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="QM9 for novelty (skipped if absent)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.steps = 100, [20]
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
    sampler = SAMPLERS[args.sampler]() if args.sampler else None
    runs = [(steps, sample_and_score(task, args.n, steps=steps, sampler=sampler, batch_size=args.batch_size,
                                     seed=args.seed, reference_smiles=reference)) for steps in args.steps]
    name = f"**molgen** ({Path(args.ckpt).name if args.ckpt else 'bundled'})"
    print(f"# QM9, {args.n} molecules, {type(sampler or task.sampler).__name__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| model | stability from | atom stable % | mol stable % | valid % | connected % | valid*unique % "
          "| novel % | steps | s / molecule |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for pname, source, a, mo, v, vu, st in PUBLISHED:
        print(f"| {pname} | {source} | {fmt(a)} | {fmt(mo)} | {fmt(v)} | - | {fmt(vu)} | - | {st} | - |")
    for steps, run in runs:
        m, n = run.metrics, run.metrics.n_molecules
        per = f"{run.seconds / n:.3f}"
        if run.bonds is not None:
            b = run.bonds
            print(f"| {name} | predicted bonds | {pct(b['atom_stable'])} | {pct(b['mol_stable'])} | {pct(b['valid'])} "
                  f"| {pct(b['connected'])} | {pct(b['valid_unique'])} | {pct(b['novel'])} | {steps} | {per} |")
        print(f"| {name} | distances (EDM) | {pct(m.atom_stability)} | {pct(m.molecule_stability)} | "
              f"{pct(m.validity)} | - | {pct(run.valid_unique)} | {pct(m.novelty)} | {steps} | {per} |")
        if run.n_failed:
            print(f"\n{run.n_failed} samples at {steps} steps had non-finite coordinates and count as unstable/invalid")


if __name__ == "__main__":
    main()

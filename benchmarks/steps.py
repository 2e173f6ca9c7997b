"""Quality against the number of sampling steps (10 ... 500) for each sampler, on QM9 and on
CrossDocked test pockets; prints a Markdown table and draws a PNG.

    python benchmarks/steps.py                  # the table in docs/benchmarks.md
    python benchmarks/steps.py --quick          # smoke run
    python benchmarks/steps.py samplers=[ddim] steps=[20,50] crossdocked.enabled=false

Settings: conf/benchmark/steps.yaml. QM9: EDM atom/molecule stability and validity of the
bundled molecule checkpoint; CrossDocked: validity, connectivity, mean Vina score / minimize of
the bundled ligand-pocket checkpoint (molgen.bench.crossdocked with those sampler settings).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import torch

NFE = {"ddpm": 1, "ddim": 1, "ode": 2}  # network evaluations per step (Heun: two, one on the last step)


def qm9_rows(cfg) -> list[dict]:
    from molgen.api import load_model
    from molgen.bench.qm9 import sample_and_score
    from molgen.diffusion.samplers import SAMPLERS

    task = load_model(cfg.qm9.ckpt, task="molecule")
    rows = []
    for name in cfg.samplers:
        for steps in cfg.steps:
            run = sample_and_score(task, int(cfg.qm9.n), steps=int(steps), sampler=SAMPLERS[name](),
                                   batch_size=int(cfg.qm9.batch_size), seed=int(cfg.seed))
            m = run.metrics
            rows.append({"benchmark": "QM9", "sampler": name, "steps": int(steps), "nfe": _nfe(name, steps),
                         "atom_stable": m.atom_stability, "mol_stable": m.molecule_stability,
                         "valid": m.validity, "s_per_sample": run.seconds / max(m.n_molecules, 1)})
            print(f"QM9 {name} {steps}: {rows[-1]}", flush=True)
    return rows


def crossdocked_rows(cfg) -> list[dict]:
    from omegaconf import OmegaConf

    from molgen.bench.crossdocked import run
    from molgen.benchmarking import benchmark_config

    rows = []
    for name in cfg.samplers:
        for steps in cfg.steps:
            cd = benchmark_config("crossdocked", overrides=[
                f"sampler={name}", f"steps={steps}", f"n_pockets={cfg.crossdocked.n_pockets}",
                f"n_samples={cfg.crossdocked.n_samples}", f"batch_size={cfg.crossdocked.n_samples}",
                f"seed={cfg.seed}", f"threads={cfg.threads}", f"outdir={Path(cfg.outdir) / f'crossdocked_{name}_{steps}'}",
                *(f"eval.{k}={v}" for k, v in OmegaConf.to_container(cfg.crossdocked.eval).items()),
                *([f"ckpt={cfg.crossdocked.ckpt}"] if cfg.crossdocked.ckpt else [])])
            mols = run(cd).molecules
            valid = mols[mols["valid"].astype(bool)]
            rows.append({"benchmark": "CrossDocked", "sampler": name, "steps": int(steps), "nfe": _nfe(name, steps),
                         "valid": float(mols["valid"].astype(bool).mean()),
                         "connected": float(mols["connected"].fillna(False).astype(bool).mean()),
                         "vina_score": float(pd.to_numeric(valid.get("vina_score"), errors="coerce").mean()),
                         "vina_min": float(pd.to_numeric(valid.get("vina_minimize"), errors="coerce").mean()),
                         "s_per_sample": float(mols["sample_seconds"].sum() / max(len(mols), 1))
                         if "sample_seconds" in mols else float("nan")})
            print(f"CrossDocked {name} {steps}: {rows[-1]}", flush=True)
    return rows


def _nfe(sampler: str, steps: int) -> int:
    return NFE[sampler] * int(steps) - (1 if sampler == "ode" else 0)


def markdown(df: pd.DataFrame) -> str:
    out = []
    for bench, cols in (("QM9", ["atom_stable", "mol_stable", "valid"]),
                        ("CrossDocked", ["valid", "connected", "vina_score", "vina_min"])):
        part = df[df["benchmark"] == bench]
        if part.empty:
            continue
        head = ["sampler", "steps", "NFE"] + cols + ["s / sample"]
        out += [f"**{bench}**", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for r in part.to_dict("records"):
            cells = [r["sampler"], str(r["steps"]), str(r["nfe"])]
            cells += [f"{r[c]:.2f}" if c.startswith("vina") else f"{100 * r[c]:.1f} %" for c in cols]
            cells.append(f"{r['s_per_sample']:.3f}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("QM9", "atom_stable", "QM9 atom stability"), ("QM9", "valid", "QM9 validity"),
              ("CrossDocked", "valid", "CrossDocked validity"), ("CrossDocked", "vina_score", "CrossDocked Vina score")]
    panels = [p for p in panels if not df[df["benchmark"] == p[0]].empty]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (bench, col, title) in zip(axes[0], panels):
        for name, part in df[df["benchmark"] == bench].groupby("sampler"):
            scale = 1 if col.startswith("vina") else 100
            ax.plot(part["steps"], scale * part[col], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("sampling steps")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from molgen.benchmarking import benchmark_config, parse_benchmark_args
    from molgen.io.tables import write_csv_atomic
    from molgen.manifest import CROSSDOCKED_INDEX

    _, cfg = parse_benchmark_args("steps", argv, __doc__, "two step counts, a few molecules")
    torch.set_num_threads(int(cfg.threads))
    t0 = time.perf_counter()
    rows = qm9_rows(cfg) if cfg.qm9.enabled else []
    if cfg.crossdocked.enabled:
        if (Path(benchmark_config("crossdocked").root) / CROSSDOCKED_INDEX).is_file():
            rows += crossdocked_rows(cfg)
        else:
            print("CrossDocked part skipped: ../shared/data/crossdocked_test is absent")
    df = pd.DataFrame(rows)
    outdir = Path(cfg.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(df, outdir / "steps.csv")
    print(f"\n# Quality against sampling steps, {time.strftime('%Y-%m-%d')}, {cfg.threads} thread(s), "
          f"seed {cfg.seed}\n")
    print(markdown(df))
    if cfg.plot and not df.empty:
        plot(df, Path(cfg.plot))
        print(f"plot: {cfg.plot}")
    print(f"written: {outdir / 'steps.csv'}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The denoiser families side by side on QM9 (issue 6): EGNN and TFN (e3nn), two sizes each.

Every model of ``conf/benchmark/models.yaml`` runs in its own fresh process on ``threads``
thread(s), so the numbers compare:

- **params**: trainable parameters of the network (the EMA copy not counted);
- **fwd / fwd+bwd ms per graph**: the diffusion loss of one batch of ``batch_size`` random QM9
  training molecules at fixed random times, without gradients (what a sampling step costs) and
  with its backward pass (a training step less the optimizer), best of ``repeats`` after a
  warm-up, divided by the batch size;
- **peak RSS MB**: the process's peak resident memory (``getrusage`` ``ru_maxrss``) once that
  forward+backward has run: Python, torch, the loaded data, the model and one training step;
  **step MB** is how far the forward+backward lifted it above the resident memory just before;
- **quality**: ``molgen train`` (``conf/train.yaml`` composed with ``train_overrides`` and the
  model) for ``train_seconds`` of wall clock, then ``n_samples`` molecules sampled from the
  trained weights and scored by EDM's rules (``molgen.metrics.stability``): atom stability,
  molecule stability and RDKit validity; samples that went non-finite count as failed.

    python benchmarks/models.py --quick     # smoke run, about 5 minutes
    python benchmarks/models.py             # the table in docs/benchmarks.md (about an hour)
    python benchmarks/models.py train_seconds=1200 models=[egnn_small,tfn_small]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
RESULT_TAG = "MODELS-BENCHMARK-RESULT "

# (header, key of a result, format) of the table's columns
COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", "{}"),
    ("params", "params", "{:,}"),
    ("fwd ms/graph", "fwd_ms", "{:.2f}"),
    ("fwd+bwd ms/graph", "fwd_bwd_ms", "{:.2f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("step MB", "step_mb", "{:.0f}"),
    ("train steps", "train_steps", "{:,}"),
    ("atom stab %", "atom_stable", "{:.1f}"),
    ("mol stab %", "mol_stable", "{:.1f}"),
    ("valid %", "valid", "{:.1f}"),
]


def count_parameters(module: torch.nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def max_time(seconds: float) -> str:
    """Lightning's ``max_time`` string ``DD:HH:MM:SS`` of a number of seconds."""
    s = int(round(seconds))
    return f"{s // 86400:02d}:{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def format_table(results: list[dict[str, Any]]) -> str:
    """Markdown table of the results, one row each; a missing or ``None`` value prints as ``-``."""
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = ["-" if r.get(key) is None else fmt.format(r[key]) for _, key, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    """CPU model, core count and torch version of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024**2 if sys.platform == "darwin" else kb / 1024  # macOS reports bytes


def current_rss_mb() -> float:
    """Resident memory of this process now (MB); the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2
    except OSError:
        return peak_rss_mb()


def qm9_batch(dataset, size: int, seed: int):
    """``size`` random molecules of ``dataset`` (seeded) as one PyG batch."""
    from torch_geometric.data import Batch

    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:size]
    return Batch.from_data_list([dataset[int(i)] for i in idx])


def time_loss(task, graphs, repeats: int) -> tuple[float, float]:
    """Best seconds of ``task``'s diffusion loss on ``graphs``: without gradients, and with backward."""
    from molgen.benchmarking import best_time

    def fwd() -> None:
        with torch.inference_mode():
            task.diffusion_loss(graphs, generator=torch.Generator().manual_seed(0))

    def fwd_bwd() -> None:
        task.net.zero_grad(set_to_none=True)
        task.diffusion_loss(graphs, generator=torch.Generator().manual_seed(0))["loss"].backward()

    out = best_time(fwd, repeats), best_time(fwd_bwd, repeats)
    task.net.zero_grad(set_to_none=True)
    return out


def train_overrides(cfg, name: str) -> list[str]:
    """The ``molgen train`` overrides of model ``name`` (without the run folder)."""
    return [*cfg.train_overrides, f"model={name}", f"data={cfg.data}", f"data.batch_size={cfg.batch_size}",
            f"trainer.max_time={max_time(cfg.train_seconds)}", f"threads={cfg.threads}", f"seed={cfg.seed}"]


def run_model(cfg, name: str) -> dict[str, Any]:
    """Measure, train and score one model in this process (the worker of :func:`main`)."""
    from molgen.bench.qm9 import sample_and_score
    from molgen.commands.train import build
    from molgen.config import compose_run

    torch.set_num_threads(int(cfg.threads))
    with tempfile.TemporaryDirectory(prefix="molgen-models-") as run_dir:
        tcfg = compose_run("train", train_overrides(cfg, name), run_dir)
        datamodule, task, trainer = build(tcfg)
        graphs = task.unpack(qm9_batch(datamodule.dataset("train"), int(cfg.batch_size), int(cfg.seed)))
        before = current_rss_mb()
        fwd, fwd_bwd = time_loss(task.train(), graphs, int(cfg.repeats))
        peak = peak_rss_mb()
        t0 = time.perf_counter()
        trainer.fit(task, datamodule=datamodule)
        train_wall = time.perf_counter() - t0
    task.eval()
    sampled = sample_and_score(task, int(cfg.n_samples), steps=int(cfg.sample_steps),
                               batch_size=int(cfg.sample_batch), seed=int(cfg.seed))
    m = sampled.metrics
    n_graphs = graphs.n_graphs
    return {"model": name, "params": count_parameters(task.net), "fwd_ms": 1e3 * fwd / n_graphs,
            "fwd_bwd_ms": 1e3 * fwd_bwd / n_graphs, "peak_rss_mb": peak, "step_mb": max(peak - before, 0.0),
            "train_steps": int(trainer.global_step), "train_s": train_wall, "sample_s": sampled.seconds,
            "n_failed": sampled.n_failed, "atom_stable": 100 * m.atom_stability,
            "mol_stable": 100 * m.molecule_stability, "valid": 100 * m.validity}


def run_in_subprocess(name: str, quick: bool, overrides: list[str], threads: int) -> dict[str, Any]:
    """:func:`run_model` in a fresh Python process with ``threads`` OpenMP / MKL threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, *(["--quick"] if quick else []),
           *overrides]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    for line in reversed(res.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = "\n".join((res.stderr or res.stdout).splitlines()[-15:])
    print(f"model {name}: worker failed (exit {res.returncode}):\n{tail}", file=sys.stderr)
    return {"model": f"{name} (failed)"}


def main(argv: list[str] | None = None) -> None:
    from molgen.benchmarking import benchmark_config, benchmark_parser

    ap = benchmark_parser("models", __doc__, "smoke-run settings")
    ap.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)  # one model, in this process
    args = ap.parse_args(argv)
    cfg = benchmark_config("models", quick=args.quick, overrides=args.overrides)
    if args.worker:
        print(RESULT_TAG + json.dumps(run_model(cfg, args.worker)), flush=True)
        return
    from hydra.utils import instantiate

    from molgen.config import compose

    data_cfg = compose("train", [*cfg.train_overrides, f"data={cfg.data}"]).data
    instantiate(data_cfg).prepare_data()  # parse and cache QM9 once, before any worker starts
    command = " ".join(["python benchmarks/models.py", *(["--quick"] if args.quick else []),
                        *map(shlex.quote, args.overrides)])
    train_command = " ".join(["molgen train", *train_overrides(cfg, "<model>")])
    header = [f"command: `{command}`", f"machine: {machine()}",
              f"threads: {cfg.threads} per model, each model in its own process",
              f"data: `data={cfg.data}` ({data_cfg.split_sizes[0]:,} training molecules), "
              f"batch {cfg.batch_size}",
              f"training: {cfg.train_seconds} s wall clock per model: `{train_command}`",
              f"sampling: {cfg.n_samples} molecules, {cfg.sample_steps} steps, scored by EDM's rules"]
    print(f"# molgen denoisers on QM9, {time.strftime('%Y-%m-%d')}\n", flush=True)
    print("  \n".join(header) + "\n", flush=True)
    results = []
    for name in cfg.models:
        t0 = time.perf_counter()
        results.append(run_in_subprocess(name, args.quick, list(args.overrides), int(cfg.threads)))
        r = results[-1]
        print(f"- {name}: {time.perf_counter() - t0:.0f} s in all; trained {r.get('train_s', 0):.0f} s, "
              f"sampled {r.get('sample_s', 0):.0f} s, {r.get('n_failed', 0)} non-finite samples", flush=True)
    print("\n" + format_table(results))


if __name__ == "__main__":
    main()

"""Backbone generation quality and speed of a checkpoint beside natural TS50 chains.

Samples ``--n`` backbones at each of ``--lengths`` with the bundled checkpoint (or ``--ckpt``)
and prints one row of :func:`molgen.metrics.backbone.summarize_backbones` per length, plus the
same metrics of the TS50 chains (``../shared/data/proteins/ts50.json``, when present) as the
natural reference:

    nice python benchmarks/backbone.py --quick        # 2 backbones per length, 100 steps
    nice python benchmarks/backbone.py --n 8          # the default checkpoint's own steps

Columns: CA-CA share within 3.8 +- 0.1 A, peptide C-N share within 1.33 +- 0.1 A,
clash-free backbones (no CA-CA < 3 A, |i-j| > 2),
residues in a clash, DSSP helix / strand / loop, Rg / (2.2 L^0.38), Ramachandran-allowed share,
right-handed share of helical residues, seconds per backbone (batched, this machine).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molgen.metrics.backbone import summarize_backbones

REPO = Path(__file__).resolve().parents[1]
TS50 = REPO.parent / "shared" / "data" / "proteins" / "ts50.json"

COLUMNS = [("ca_ca_valid", "CA-CA ok", 100), ("c_n_valid", "C-N ok", 100),
           ("clash_free_share", "clash-free", 100),
           ("clash_residue_share", "clash res", 100), ("helix", "helix", 100), ("strand", "strand", 100),
           ("loop", "loop", 100), ("rg_ratio", "Rg ratio", 1), ("rama_allowed", "Rama ok", 100),
           ("helix_right_handed", "RH helix", 100)]


def reference_rows(path: Path) -> list[dict]:
    """Metrics of natural chains (segments of >= 40 residues without breaks or missing atoms)."""
    from molgen.io.chains import clean_chains, read_chains

    if not path.is_file():
        print(f"(no TS50 reference: {path} not found)")
        return []
    segments = clean_chains(read_chains(path), min_length=40)
    s = summarize_backbones([seg.backbone for seg in segments])
    lengths = "%d-%d" % (min(map(len, segments)), max(map(len, segments)))
    return [{**s, "set": f"TS50 (natural, {len(segments)} chains)", "length": lengths,
             "s_per_backbone": float("nan")}]


def sample_rows(args: argparse.Namespace) -> list[dict]:
    from molgen.checkpoint import load_task
    from molgen.diffusion.samplers import DDIMSampler, DDPMSampler

    task = load_task(args.ckpt)
    sampler = {"ddpm": DDPMSampler(), "ddim": DDIMSampler()}[args.sampler] if args.sampler else None
    steps = args.steps or task.sample_steps
    rows = []
    for length in args.lengths:
        gen = torch.Generator().manual_seed(args.seed + length)
        t0 = time.perf_counter()
        out = task.generate([length] * args.n, steps=steps, sampler=sampler, generator=gen,
                            noise_scale=args.noise_scale, rebuild=args.rebuild)
        dt = (time.perf_counter() - t0) / args.n
        ok = [g.backbone for g in out if g.finite]
        rows.append({**summarize_backbones(ok), "set": f"molgen ({steps} steps, {len(ok)}/{args.n} finite)",
                     "length": str(length), "s_per_backbone": dt})
        print(f"  length {length}: {dt:.2f} s per backbone", flush=True)
    return rows


def x0_geometry(task, backbones: list[np.ndarray], times: list[float], seed: int = 0) -> list[dict]:
    """Mean CA-CA and peptide C-N (A) of the network's clean-structure estimate ``x0_hat`` for natural
    ``backbones`` ``[L, 4, 3]`` noised to each time in ``times``: what the denoiser does on its own
    training distribution, to tell a biased denoiser from a bias that builds up along the sampling
    trajectory (exposure bias)."""
    from molgen.diffusion.com import remove_com
    from molgen.metrics.backbone import bond_geometry, ca_ca_distances

    lengths = [len(b) for b in backbones]
    batch = torch.repeat_interleave(torch.arange(len(backbones)), 4 * torch.tensor(lengths))
    pos = torch.cat([torch.as_tensor(b, dtype=torch.float32).reshape(-1, 3) for b in backbones])
    pos = remove_com(pos * task.pos_scale, batch)
    gen, rows = torch.Generator().manual_seed(seed), []
    for tv in times:
        t = torch.full((len(backbones),), float(tv))
        with torch.no_grad():
            if hasattr(task, "predict_frames"):  # the frame model: one pass, no self-conditioning
                x0 = _frame_x0(task, pos, batch[::4], t, gen)
            else:
                eps = remove_com(torch.randn(pos.shape, generator=gen), batch)
                _, x0 = task.predict(task.sampling_net, task.process.add_noise(pos, eps, t[batch]), t, batch)
        chains = torch.split((x0 / task.pos_scale).reshape(-1, 4, 3), lengths)
        rows.append({"t": float(tv),
                     "ca_ca": float(np.concatenate([ca_ca_distances(c) for c in chains]).mean()),
                     "c_n": float(np.concatenate([bond_geometry(c)["c_n"] for c in chains]).mean())})
    return rows


def _frame_x0(task, pos: torch.Tensor, res_batch: torch.Tensor, t: torch.Tensor,
              gen: torch.Generator) -> torch.Tensor:
    """Atoms ``[4R, 3]`` (task units) of a frame model's clean estimate of ``pos`` noised to ``t``."""
    from molgen.diffusion.frame_flow import BackboneFrames
    from molgen.protein.geometry import frames_from_backbone

    clean = BackboneFrames(*frames_from_backbone(pos.reshape(-1, 4, 3)), res_batch)
    pred = task.predict_frames(task.sampling_net, task.process.noise(clean, t, gen), t)
    return (task.atoms(pred) * task.pos_scale).reshape(-1, 3)


def motif_problems(path: Path, count: int = 8, flank: int = 15) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``count`` motif-scaffolding problems from TS50: half helices, half strands (the first
    stretch of 10-19 residues of one DSSP state in each chain, in file order), each between two
    generated flanks of ``flank`` residues. Returns ``(name, motif mask [L], motif backbone)``."""
    from molgen.io.chains import clean_chains, read_chains
    from molgen.protein.dssp import assign_secondary_structure

    found: dict[str, list] = {"H": [], "E": []}
    for seg in clean_chains(read_chains(path), min_length=40):
        ss = assign_secondary_structure(seg.backbone)
        for state in ("H", "E"):
            if len(found[state]) >= count // 2:
                continue
            runs = np.flatnonzero(np.diff(np.r_[0, (ss == state).astype(int), 0]))
            for start, stop in zip(runs[::2], runs[1::2]):
                if 10 <= stop - start:
                    stop = min(stop, start + 19)
                    mask = np.r_[np.zeros(flank, bool), np.ones(stop - start, bool), np.zeros(flank, bool)]
                    name = f"{seg.name} {state} {start}-{stop - 1}"
                    found[state].append((name, mask, seg.backbone[start:stop]))
                    break
    return found["H"] + found["E"]


def motif_rows(args: argparse.Namespace) -> list[dict]:
    """Motif RMSD, longest junction C-N and geometry of ``args.n`` scaffolds per TS50 motif problem."""
    from molgen.checkpoint import load_task
    from molgen.protein.contig import motif_rmsd
    from molgen.sampling_backbone import junction_bonds
    from molgen.tasks.backbone_common import BackboneMotif

    task, rows = load_task(args.ckpt), []
    for k, (name, mask, motif) in enumerate(motif_problems(args.ts50)):
        gen = torch.Generator().manual_seed(args.seed + k)
        out = task.generate([len(mask)] * args.n, [BackboneMotif(mask, motif)] * args.n, steps=args.steps,
                            generator=gen, rebuild=args.rebuild)
        ok = [g.backbone for g in out if g.finite]
        rmsd = [motif_rmsd(b, motif, mask) for b in ok]
        junction = [float(junction_bonds(b, mask).max()) for b in ok]
        rows.append({**summarize_backbones(ok), "set": name, "length": str(len(mask)),
                     "motif_rmsd": float(np.mean(rmsd)), "junction_c_n_max": float(np.max(junction)),
                     "s_per_backbone": float("nan")})
        print(f"  {name}: motif RMSD {rows[-1]['motif_rmsd']:.3f} A, longest junction C-N "
              f"{rows[-1]['junction_c_n_max']:.2f} A", flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    head = ["set", "L"] + [name for _, name, _ in COLUMNS] + ["s/bb"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["set"], r["length"]]
        for key, _, scale in COLUMNS:
            v = float(r.get(key, np.nan))
            cells.append("-" if np.isnan(v) else (f"{100 * v:.1f}" if scale == 100 else f"{v:.2f}"))
        cells.append("-" if np.isnan(r["s_per_backbone"]) else f"{r['s_per_backbone']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="default: the bundled checkpoint of task=backbone")
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 150])
    parser.add_argument("--n", type=int, default=8, help="backbones per length")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the checkpoint's)")
    parser.add_argument("--sampler", choices=["ddpm", "ddim"], default=None)
    parser.add_argument("--noise-scale", type=float, default=None, help="default: the checkpoint's")
    parser.add_argument("--rebuild", choices=["none", "oxygen", "ideal"], default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ts50", type=Path, default=TS50)
    parser.add_argument("--csv", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--quick", action="store_true", help="2 backbones per length, 100 steps")
    parser.add_argument("--motif", action="store_true",
                        help="instead: 8 TS50 motif problems (4 helices, 4 strands), --n scaffolds each")
    parser.add_argument("--x0-check", action="store_true",
                        help="instead: CA-CA / C-N of x0_hat on noised TS50 chains (8 chains, 100 residues)")
    args = parser.parse_args()
    if args.ckpt is None:
        from molgen.config import compose

        args.ckpt = str(compose("sample", ["task=backbone"]).task.checkpoint)
    if args.x0_check:
        from molgen.checkpoint import load_task
        from molgen.io.chains import clean_chains, read_chains

        torch.set_num_threads(args.threads)
        chains = [c.backbone[:100] for c in clean_chains(read_chains(args.ts50), min_length=100)[:8]]
        print("| t | x0_hat CA-CA (A) | x0_hat C-N (A) |\n|---|---|---|")
        for r in x0_geometry(load_task(args.ckpt), chains, [0.001, 0.02, 0.05, 0.1, 0.2, 0.4], args.seed):
            print(f"| {r['t']:g} | {r['ca_ca']:.3f} | {r['c_n']:.3f} |")
        return
    if args.quick:
        args.n, args.steps = 2, args.steps or 100
    torch.set_num_threads(args.threads)
    if args.motif:
        rows = motif_rows(args)
        print(format_table(rows))
        print("| problem | motif RMSD (A) | longest junction C-N (A) |\n|---|---|---|")
        for r in rows:
            print(f"| {r['set']} | {r['motif_rmsd']:.3f} | {r['junction_c_n_max']:.2f} |")
        if args.csv is not None:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
        return
    rows = sample_rows(args) + reference_rows(args.ts50)
    print(format_table(rows))
    if args.csv is not None:
        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()

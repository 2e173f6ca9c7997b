"""Speed and memory of the ligand-pocket denoiser (issue: speed and scale).

Measures, on a CrossDocked test pocket of ~400 atoms with 25-atom ligands:
time per denoising step for 1/10/100 ligands, with molgen's fast path (pocket encoded once and
shared) and with the straightforward "joint" path of peers (the pocket replicated per ligand and
its message passing recomputed in every layer of every step, as DiffSBDD does), at the default
size and at DiffSBDD's size (6 layers x 256); training steps per second (batch 8); wall time and
peak RSS to sample 100 ligands end to end (decode + write included); scaling with pocket size
(200/400/800 atoms) and ligand size (10/25/50); the bond-aware denoiser (a feature and a bond
type for every ligand atom pair) beside the atoms-only one, per step and per training step; achieved FLOP/s of a denoising step against this
machine's measured matmul FLOP/s.

    python benchmarks/speed.py --quick          # a minute: smoke run
    python benchmarks/speed.py                  # the full table (settings: conf/benchmark/speed.yaml)
    python benchmarks/speed.py threads=1        # key=value overrides of those settings

Weights are random unless --ckpt is given: only the architecture counts for speed.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from molgen.benchmarking import best_time

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
REF = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


def build_net(hidden: int, layers: int, context_layers: int, encoder_cutoff: float):
    from molgen.data.featurize import pocket_feature_dim
    from molgen.nn.egnn import EGNN

    torch.manual_seed(0)
    return EGNN(n_types=9, hidden=hidden, n_layers=layers, context_dim=pocket_feature_dim("full"),
                context_cutoff=8.0, context_layers=context_layers,
                context_encoder_cutoff=encoder_cutoff).eval()


def pocket_with(n_atoms_target: int):
    """A pocket of roughly ``n_atoms_target`` atoms around the demo ligand (cutoff searched)."""
    from molgen.io.pocket import read_pocket
    from molgen.sampling import pocket_tensors

    best = None
    for cutoff in [x / 2 for x in range(8, 50)]:
        p = read_pocket(RECEPTOR, ref_ligand=REF, cutoff=cutoff)
        if best is None or abs(p.n_atoms - n_atoms_target) < abs(best.n_atoms - n_atoms_target):
            best = p
        if p.n_atoms >= n_atoms_target:
            break
    pos, feat, _ = pocket_tensors(best, "full")
    return pos, feat


@torch.inference_mode()
def step_time(net, pos, feat, n_lig: int, lig_atoms: int, joint: bool, repeats: int) -> tuple[float, int]:
    """Seconds per denoising step and edges per step."""
    from molgen.nn.graph import radius_bipartite, radius_graph

    g = torch.Generator().manual_seed(0)
    batch = torch.repeat_interleave(torch.arange(n_lig), lig_atoms)
    x = torch.randn(n_lig * lig_atoms, 3, generator=g)
    h = torch.randn(n_lig * lig_atoms, 9, generator=g)
    t = torch.full((n_lig,), 0.5)
    if joint:  # peers: pocket copied per ligand, its message passing run in every step
        rep_pos, rep_feat = pos.repeat(n_lig, 1), feat.repeat(n_lig, 1)
        rep_batch = torch.repeat_interleave(torch.arange(n_lig), pos.shape[0])

        def fn():
            ctx = net.encode_context(rep_pos, rep_feat, rep_batch)
            net(x, h, t, batch, ctx)
        pp = radius_graph(rep_pos, net.encoder.cutoff, rep_batch).shape[1]
        lp = radius_bipartite(x, rep_pos, net.context_cutoff, batch, rep_batch).shape[1]
    else:
        ctx = net.encode_context(pos, feat, torch.zeros(pos.shape[0], dtype=torch.long))
        shared = ctx.shared_by(torch.zeros(n_lig, dtype=torch.long))

        def fn():
            net(x, h, t, batch, shared)
        pp = 0
        lp = radius_bipartite(x, pos, net.context_cutoff, batch, torch.zeros(pos.shape[0], dtype=torch.long)).shape[1]
    ll = n_lig * lig_atoms * (lig_atoms - 1)
    return best_time(fn, repeats), pp + lp + ll


def flops_of_step(net, pos, feat, n_lig: int, lig_atoms: int) -> int:
    batch = torch.repeat_interleave(torch.arange(n_lig), lig_atoms)
    x, h = torch.randn(n_lig * lig_atoms, 3), torch.randn(n_lig * lig_atoms, 9)
    ctx = net.encode_context(pos, feat, torch.zeros(pos.shape[0], dtype=torch.long)).shared_by(
        torch.zeros(n_lig, dtype=torch.long))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x, h, torch.full((n_lig,), 0.5), batch, ctx)
    return counter.get_total_flops()


def matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeats)


def autocast(bf16: bool):
    """CPU bf16 autocast (what `trainer=cpu_bf16` does), or nothing."""
    from contextlib import nullcontext

    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()


def train_step_time(net, batch_size: int, repeats: int, bf16: bool = False) -> float:
    """Seconds per optimiser step on CrossDocked-like complexes (demo pocket, 25-atom ligands)."""
    from functools import partial

    from molgen.diffusion.processes import VPProcess
    from molgen.diffusion.samplers import DDPMSampler
    from molgen.diffusion.schedules import CosineSchedule
    from molgen.tasks.base import Graphs
    from molgen.tasks.ligand_pocket import LigandPocketTask

    pos, feat = pocket_with(400)
    task = LigandPocketTask(net.train(), VPProcess(CosineSchedule()), DDPMSampler(),
                            optimizer=partial(torch.optim.AdamW, lr=1e-4), ema_decay=0)
    opt = task.configure_optimizers()
    lig = 25
    g = Graphs(pos=torch.randn(batch_size * lig, 3), types=torch.randint(0, 9, (batch_size * lig,)),
               batch=torch.repeat_interleave(torch.arange(batch_size), lig), n_graphs=batch_size,
               context=(pos.repeat(batch_size, 1), feat.repeat(batch_size, 1),
                        torch.repeat_interleave(torch.arange(batch_size), pos.shape[0])))

    def fn():
        with autocast(bf16):
            loss = task.diffusion_loss(g)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
    out = best_time(fn, repeats)
    net.eval()
    return out


def build_bond_net(hidden: int, layers: int, context_layers: int, encoder_cutoff: float):
    """The bond-aware denoiser (pair features for every ligand atom pair) at the same size."""
    from molgen.data.featurize import pocket_feature_dim
    from molgen.nn.bond_egnn import BondEGNN

    torch.manual_seed(0)
    return BondEGNN(n_types=9, hidden=hidden, n_layers=layers, context_dim=pocket_feature_dim("full"),
                    context_cutoff=8.0, context_layers=context_layers,
                    context_encoder_cutoff=encoder_cutoff).eval()


def _ligand_state(n_lig: int, lig_atoms: int):
    from molgen.diffusion.molecule_state import MoleculeState, all_pairs

    g = torch.Generator().manual_seed(0)
    batch = torch.repeat_interleave(torch.arange(n_lig), lig_atoms)
    pairs = all_pairs(batch)
    n = batch.numel()
    return MoleculeState(torch.randn(n, 3, generator=g), torch.randint(0, 9, (n,), generator=g),
                         torch.ones(n, dtype=torch.long), torch.randint(0, 5, (pairs.shape[1],), generator=g),
                         pairs, batch, n_lig)


@torch.inference_mode()
def bond_step_time(net, pos, feat, n_lig: int, lig_atoms: int, repeats: int) -> float:
    """Seconds per denoising step of the bond-aware denoiser, pocket encoded once and shared."""
    x = _ligand_state(n_lig, lig_atoms)
    ctx = net.encode_context(pos, feat, torch.zeros(pos.shape[0], dtype=torch.long))
    shared = ctx.shared_by(torch.zeros(n_lig, dtype=torch.long))
    t = torch.full((n_lig,), 0.5)
    return best_time(lambda: net(x.pos, x.atom_types, x.charges, x.bond_types, x.pairs, t, x.batch,
                                 context=shared), repeats)


def bond_train_step_time(net, batch_size: int, repeats: int) -> float:
    """Seconds per optimiser step of the bond-aware denoiser (flow loss on atoms, charges, bonds)."""
    from molgen.diffusion.categorical import CategoricalFlow
    from molgen.diffusion.molecule_flow import MoleculeFlow

    pos, feat = pocket_with(400)
    flow = MoleculeFlow(CategoricalFlow((1.0,) * 9), CategoricalFlow((0.1, 0.8, 0.1)),
                        CategoricalFlow((0.9, 0.05, 0.03, 0.01, 0.01)))
    x0 = _ligand_state(batch_size, 25)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    c_batch = torch.repeat_interleave(torch.arange(batch_size), pos.shape[0])

    def fn():
        t = flow.sample_time(batch_size)
        x = flow.noise(x0, t)
        ctx = net.encode_context(pos.repeat(batch_size, 1), feat.repeat(batch_size, 1), c_batch)
        pred = net(x.pos, x.atom_types, x.charges, x.bond_types, x.pairs, t, x.batch, context=ctx)
        flow.loss(pred, x0)["loss"].backward()
        opt.step()
        opt.zero_grad()
    out = best_time(fn, repeats)
    net.eval()
    return out


def bond_aware_tables(cfg, sizes: dict, pos400, feat400, repeats: int) -> None:
    """The bond-aware denoiser beside the atoms-only one at every size (issue 17's speed rows)."""
    print(f"\n## Bond-aware denoiser beside the atoms-only one ({pos400.shape[0]}-atom pocket, 25-atom ligands)\n")
    print("| model | ligands | atoms-only s / step | bond-aware s / step | ratio |\n|---|---|---|---|---|")
    for name, size in sizes.items():
        atoms, bonds = build_net(*size), build_bond_net(*size)
        for nb in cfg.bond_aware.batches:
            a = step_time(atoms, pos400, feat400, nb, 25, False, repeats)[0]
            b = bond_step_time(bonds, pos400, feat400, nb, 25, repeats)
            print(f"| {name} | {nb} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    print(f"\n| model | bond-aware training s / step (batch {cfg.train_batch}, fp32) |\n|---|---|")
    for name, size in sizes.items():
        print(f"| {name} | {bond_train_step_time(build_bond_net(*size), cfg.train_batch, repeats):.2f} |")


def sample_end_to_end(n: int, steps: int, ckpt: str | None, threads: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of `molgen sample` for n ligands, in a fresh process."""
    import tempfile

    out = tempfile.mkdtemp(prefix="molgen-speed-")
    args = [sys.executable, "-m", "molgen.cli", "sample", f"n_samples={n}", f"steps={steps}", "batch_size=100",
            f"outdir={out}", f"threads={threads}", "n_atoms=25"] + ([f"ckpt={ckpt}"] if ckpt else [])
    code = ("import resource, subprocess, sys, time; t=time.perf_counter(); "
            f"subprocess.run({args!r}, check=True, capture_output=True); "
            "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, rss_kb = res.stdout.split()
    return float(wall), int(rss_kb) / 1024**2


def main(argv: list[str] | None = None) -> None:
    from molgen.benchmarking import parse_benchmark_args

    _, cfg = parse_benchmark_args("speed", argv, __doc__, "small sizes, one repeat")
    torch.set_num_threads(cfg.threads)
    repeats = cfg.repeats
    print(f"# molgen speed benchmark, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, {cfg.threads} thread(s)\n")
    pos400, feat400 = pocket_with(400)
    sizes = {name: tuple(v) for name, v in cfg.sizes.items() if v is not None}
    print(f"## Denoising step, {pos400.shape[0]}-atom pocket, 25-atom ligands (seconds per step)\n")
    print("| model | ligands | molgen (shared pocket) | joint (pocket per ligand, every step) | speed-up | edges molgen / joint |")
    print("|---|---|---|---|---|---|")
    for name, (hid, lay, clay, ecut) in sizes.items():
        net = build_net(hid, lay, clay, ecut)
        for nb in cfg.batches:
            fast, e_fast = step_time(net, pos400, feat400, nb, 25, False, repeats)
            slow, e_slow = step_time(net, pos400, feat400, nb, 25, True, repeats) if nb <= cfg.joint_max_batch \
                else (float("nan"), 0)
            print(f"| {name} | {nb} | {fast:.3f} | {slow:.3f} | {slow / fast:.1f}x | {e_fast:,} / {e_slow:,} |")
    print(f"\n## Training step (batch {cfg.train_batch}, 25-atom ligands, ~400-atom pockets)\n")
    print("| model | precision | s / step | steps / s |\n|---|---|---|---|")
    for name, (hid, lay, clay, ecut) in sizes.items():
        for bf16 in (False, True) if cfg.bf16 else (False,):
            ts = train_step_time(build_net(hid, lay, clay, ecut), cfg.train_batch, repeats, bf16=bf16)
            print(f"| {name} | {'bf16-mixed' if bf16 else 'fp32'} | {ts:.2f} | {1 / ts:.2f} |")
    if cfg.bf16:
        print("\n## Denoising step under bf16 autocast (10 ligands, seconds per step)\n")
        print("| model | fp32 | bf16 autocast |\n|---|---|---|")
        for name, (hid, lay, clay, ecut) in sizes.items():
            net = build_net(hid, lay, clay, ecut)
            fp32 = step_time(net, pos400, feat400, 10, 25, False, repeats)[0]
            with autocast(True):
                bf = step_time(net, pos400, feat400, 10, 25, False, repeats)[0]
            print(f"| {name} | {fp32:.3f} | {bf:.3f} |")
    if cfg.bond_aware.batches:
        bond_aware_tables(cfg, sizes, pos400, feat400, repeats)
    net = build_net(*next(iter(sizes.values())))
    print(f"\n## Scaling of the step time ({next(iter(sizes))}, 10 ligands)\n")
    print("| pocket atoms | ligand atoms | s / step |\n|---|---|---|")
    for target in cfg.pocket_sizes:
        p, f = pocket_with(target)
        print(f"| {p.shape[0]} | 25 | {step_time(net, p, f, 10, 25, False, repeats)[0]:.3f} |")
    for lig in cfg.ligand_sizes:
        print(f"| {pos400.shape[0]} | {lig} | {step_time(net, pos400, feat400, 10, lig, False, repeats)[0]:.3f} |")
    nb = cfg.flops_batch
    flops = flops_of_step(net, pos400, feat400, nb, 25)
    st, _ = step_time(net, pos400, feat400, nb, 25, False, repeats)
    peak = matmul_flops()
    print(f"\n## Hardware use ({nb} ligands, {next(iter(sizes))})\n")
    print(f"denoiser step: {flops / 1e9:.2f} GFLOP in {st:.3f} s = {flops / st / 1e9:.1f} GFLOP/s; "
          f"matmul 1024^2 on {cfg.threads} thread(s): {peak / 1e9:.1f} GFLOP/s "
          f"({100 * flops / st / peak:.0f} % of the matmul ceiling)")
    e2e = cfg.end_to_end
    if int(e2e.n) == 0:
        return
    if e2e.ckpt is None and not (REPO / "data" / "checkpoints" / "ligand_pocket.pt").is_file():
        print("\n(no bundled checkpoint: end-to-end run skipped)")
        return
    wall, rss = sample_end_to_end(e2e.n, e2e.steps, e2e.ckpt, cfg.threads)
    print(f"\n## End to end: `molgen sample n_samples={e2e.n} steps={e2e.steps}` (decode + write included)\n")
    print(f"wall {wall:.1f} s ({wall / e2e.n:.2f} s per ligand), peak RSS {rss:.2f} GB")
    print(f"\npeak RSS of this benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")


if __name__ == "__main__":
    main()

"""The frame model of task=backbone: ideal geometry by construction, motif frames kept, training
and sampling through Hydra and the CLI, the sampler contract (Euler steps, no fresh noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgen.cli import main as molgen_main
from molgen.metrics.backbone import bond_geometry
from molgen.protein.geometry import IDEAL_BOND_LENGTHS
from molgen.tasks.backbone_common import BackboneMotif

REPO = Path(__file__).resolve().parents[2]
RECEPTOR = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0" / "5d7n_D_rec.pdb"
SMALL = ("model.hidden=16", "model.n_layers=2", "model.knn=4")


@pytest.fixture(scope="module")
def task():
    from hydra.utils import instantiate

    from molgen.config import compose

    cfg = compose("train", ["experiment=backbone_frames_cpu", *SMALL, "hydra.run.dir=/tmp"])
    return instantiate(cfg.task.module).eval()


def test_generated_backbones_have_ideal_bonds_and_zero_com(task):
    out = task.generate([12, 7, 1], steps=5, generator=torch.Generator().manual_seed(0))
    assert all(g.finite for g in out)
    assert [g.backbone.shape for g in out] == [(12, 4, 3), (7, 4, 3), (1, 4, 3)]
    for g in out[:2]:
        geo = bond_geometry(g.backbone)
        np.testing.assert_allclose(geo["n_ca"], IDEAL_BOND_LENGTHS["N-CA"], atol=1e-4)
        np.testing.assert_allclose(geo["ca_c"], IDEAL_BOND_LENGTHS["CA-C"], atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(g.backbone[:, 3] - g.backbone[:, 2], axis=-1),
                                   IDEAL_BOND_LENGTHS["C-O"], atol=1e-4)
        np.testing.assert_allclose(g.backbone[:, 1].mean(0), 0.0, atol=1e-3)


def test_sampling_is_reproducible_and_fast_rotations_differ(task):
    from molgen.diffusion.frame_flow import FrameEulerSampler

    def run(sampler=None):
        gen = torch.Generator().manual_seed(3)
        return task.generate([9], steps=4, sampler=sampler, generator=gen)[0].backbone

    np.testing.assert_array_equal(run(), run())
    assert not np.allclose(run(FrameEulerSampler("linear")), run(FrameEulerSampler("exp")))


def test_motif_frames_stay_exactly_fixed(task):
    mask = np.zeros(14, dtype=bool)
    mask[5:9] = True
    from molgen.io.chains import read_chains

    motif = read_chains(RECEPTOR)[0].backbone[20:24].astype(np.float32)
    out = task.generate([14, 10], [BackboneMotif(mask, motif), None], steps=4,
                        generator=torch.Generator().manual_seed(0))
    assert out[0].finite and out[0].backbone.shape == (14, 4, 3)
    np.testing.assert_array_equal(out[0].backbone[mask], motif)
    assert out[0].motif_mask.tolist() == mask.tolist() and not out[1].motif_mask.any()


def test_denoise_contract_and_clear_errors(task):
    from molgen.diffusion.samplers import DDIMSampler

    s = task.denoise(torch.tensor([4 * 6, 4 * 3]), steps=2, generator=torch.Generator().manual_seed(0))
    assert s.pos.shape == (36, 3) and s.finite.all()
    with pytest.raises(ValueError, match="FrameEulerSampler"):
        task.generate([5], steps=2, sampler=DDIMSampler())
    with pytest.raises(ValueError, match="noise_scale"):
        task.generate([5], steps=2, noise_scale=0.5)
    task.generate([5], steps=1, noise_scale=1.0, rebuild="oxygen")


def test_training_loss_has_every_part_and_backpropagates(task):
    from torch_geometric.data import Batch, Data

    from molgen.io.chains import read_chains

    bb = torch.as_tensor(read_chains(RECEPTOR)[0].backbone[:30], dtype=torch.float32)
    batch = Batch.from_data_list([Data(backbone=bb[:18], num_nodes=18), Data(backbone=bb[10:], num_nodes=20)])
    task.train()
    task.atom_weight, task.pair_weight, task.self_condition_prob = 1.0, 1.0, 1.0
    task.geometry_t_max = 1.1  # every chain counts in the auxiliary losses
    losses = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
    assert {"loss", "loss_trans", "loss_rot", "loss_atoms", "loss_geometry", "loss_pair"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert task.net.trunk.embed_sc_edge.weight.grad is not None
    task.eval()


def test_frame_task_refuses_other_processes():
    from hydra.utils import instantiate

    from molgen.config import compose

    cfg = compose("train", ["experiment=backbone_frames_cpu", *SMALL, "diffusion=vp_cosine",
                            "hydra.run.dir=/tmp"])
    with pytest.raises(Exception, match="diffusion=frame_flow"):  # hydra wraps the ValueError
        instantiate(cfg.task.module)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("frametrain")
    molgen_main(["train", "experiment=backbone_frames_cpu", "data=backbone_mini", *SMALL,
                 "trainer.max_steps=2", "trainer.max_epochs=1", "callbacks=none", "logger=csv",
                 "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false", "threads=1",
                 f"hydra.run.dir={run}"])
    assert (run / "model.pt").is_file()
    assert pd.read_csv(run / "logs" / "metrics.csv")["train/loss_rot"].notna().any()
    return run / "model.pt"


def test_sample_cli_task_backbone_with_a_frame_checkpoint(checkpoint, tmp_path):
    out = tmp_path / "out"
    molgen_main(["sample", "task=backbone", f"ckpt={checkpoint}", "length=8-10", "n_samples=3",
                 "batch_size=2", "steps=3", f"outdir={out}", "threads=1"])
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 3 and table["finite"].all() and table["length"].between(8, 10).all()
    assert (table["bond_n_ca_dev"] < 1e-3).all()


def test_motif_scaffolding_cli_with_a_frame_checkpoint(checkpoint, tmp_path):
    out = tmp_path / "motif"
    molgen_main(["sample", "task=backbone", f"ckpt={checkpoint}", "contig=3-5,D150-157,2-4",
                 f"motif={RECEPTOR}", "n_samples=2", "steps=3", f"outdir={out}", "threads=1"])
    table = pd.read_csv(out / "samples.csv")
    assert (table["motif_residues"] == 8).all() and (table["motif_rmsd"] < 1e-3).all()


def test_bundled_frame_checkpoint_samples_ideal_backbones(tmp_path):
    """data/checkpoints/backbone_frames.pt (65 CPU minutes, docs/benchmarks.md) samples through the CLI."""
    from molgen.api import bundled_checkpoint

    out = tmp_path / "bundled"
    molgen_main(["sample", "task=backbone", f"ckpt={bundled_checkpoint('backbone_frames')}", "length=20",
                 "n_samples=2", "steps=5", f"outdir={out}", "threads=1"])
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 2 and table["finite"].all() and (table["bond_n_ca_dev"] < 1e-3).all()

"""task=backbone: the chirality-aware network, motif inpainting, training and sampling via Hydra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgen.cli import main as molgen_main
from molgen.errors import MolgenInputError
from molgen.nn.backbone_net import BackboneNet, residue_graph, residue_layout
from molgen.testing import assert_equivariant, assert_zero_com

REPO = Path(__file__).resolve().parents[2]
RECEPTOR = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0" / "5d7n_D_rec.pdb"
# An untrained network's first steps from t=1 (alpha ~ 0.003) blow coordinates up; start later.
GENTLE = ("sampler=ddpm", "+sampler.t_max=0.7")


def _helix(n_res: int) -> torch.Tensor:
    """A crude right-handed helix of 4 atoms per residue, [4 n_res, 3] (nm)."""
    k = torch.arange(4 * n_res, dtype=torch.float64)
    angle = k * (100.0 / 4) * torch.pi / 180
    return torch.stack([2.3 * torch.cos(angle), 2.3 * torch.sin(angle), 1.5 / 4 * k], -1) / 10


def _inputs(lengths=(9, 6), seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(lengths)), 4 * torch.tensor(lengths))
    pos = torch.cat([_helix(n) for n in lengths]) + 0.05 * torch.randn(batch.shape[0], 3, generator=gen,
                                                                      dtype=torch.float64)
    return pos, torch.zeros(batch.shape[0], 4, dtype=torch.float64), batch


def _net(output: str = "position") -> BackboneNet:
    torch.manual_seed(0)
    return BackboneNet(hidden=16, n_layers=2, knn=4, seq_window=1, output=output).double()


@pytest.mark.parametrize("output", ["position", "eps"])
def test_network_is_se3_equivariant(output):
    pos, h, batch = _inputs()
    net, t = _net(output), torch.tensor([0.2, 0.7], dtype=torch.float64)
    assert_equivariant(lambda pos: net(pos, h, t, batch), {"pos": pos}, outputs=("vector", "invariant"),
                       reflect=False, translate=True, atol=1e-8)


def test_network_tells_mirror_images_apart():
    """A mirrored input does not give the mirrored output: the network is chirality-aware."""
    pos, h, batch = _inputs()
    net, t = _net(), torch.tensor([0.2, 0.7], dtype=torch.float64)
    with pytest.raises(AssertionError, match="reflection"):
        assert_equivariant(lambda pos: net(pos, h, t, batch), {"pos": pos}, outputs=("vector", "invariant"),
                           reflect=True, atol=1e-3)
    right = _helix(12)
    mirror = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    b, h1, t1 = torch.zeros(48, dtype=torch.long), torch.zeros(48, 4, dtype=torch.float64), t[:1]
    out_right, out_left = net(right, h1, t1, b)[0], net(right * mirror, h1, t1, b)[0]
    assert (out_left - out_right * mirror).abs().max() > 1e-3


def test_layout_and_graph():
    pos, _, batch = _inputs((5, 3))
    res_batch, res_index, length = residue_layout(batch)
    assert res_batch.tolist() == [0] * 5 + [1] * 3 and res_index.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert length.tolist() == [5] * 5 + [3] * 3
    src, dst = residue_graph(pos.view(-1, 4, 3)[:, 1], res_batch, knn=2, seq_window=1)
    assert (res_batch[src] == res_batch[dst]).all() and (src != dst).all()
    assert {(0, 1), (1, 0), (5, 6)} <= set(zip(src.tolist(), dst.tolist()))
    with pytest.raises(ValueError, match="4 atoms"):
        residue_layout(torch.zeros(6, dtype=torch.long))


@pytest.fixture(scope="module")
def task():
    from hydra.utils import instantiate

    from molgen.config import compose

    cfg = compose("train", ["task=backbone", "model.hidden=16", "model.n_layers=2", "model.knn=4",
                            "hydra.run.dir=/tmp"])
    return instantiate(cfg.task.module).eval()


def test_motif_atoms_stay_exactly_fixed(task):
    from molgen.tasks.backbone import BackboneMotif

    mask = np.zeros(14, dtype=bool)
    mask[5:9] = True
    motif = (np.random.default_rng(0).normal(size=(4, 4, 3)) * 3 + 40).astype(np.float32)
    out = task.generate([14, 10], [BackboneMotif(mask, motif), None], steps=4, rebuild="none",
                        generator=torch.Generator().manual_seed(0))
    assert out[0].finite and out[0].backbone.shape == (14, 4, 3)
    np.testing.assert_array_equal(out[0].backbone[mask], motif)
    assert out[0].motif_mask.tolist() == mask.tolist() and not out[1].motif_mask.any()
    assert_zero_com(torch.as_tensor(out[1].backbone).reshape(-1, 3).double(), atol=0.5)


def test_base_denoise_runs_with_backbone_net(task):
    s = task.denoise(torch.tensor([4 * 6, 4 * 3]), steps=2, generator=torch.Generator().manual_seed(0))
    assert s.pos.shape == (36, 3) and s.finite.all()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("bbtrain")
    molgen_main(["train", "task=backbone", "data=backbone_mini", "model=backbone_net_cpu", "model.hidden=16",
                 "model.n_layers=2", "trainer.max_steps=1", "trainer.max_epochs=1", "callbacks=none",
                 "logger=csv", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
                 "threads=1", f"hydra.run.dir={run}"])
    assert (run / "model.pt").is_file()
    assert pd.read_csv(run / "logs" / "metrics.csv")["train/loss"].notna().any()
    return run / "model.pt"


def test_sample_cli_writes_readable_pdb_and_cif(checkpoint, tmp_path):
    import gemmi
    from Bio.PDB import PDBParser

    out = tmp_path / "out"
    molgen_main(["sample", "task=backbone", f"ckpt={checkpoint}", "length=8-10", "n_samples=3",
                 "batch_size=2", "steps=3", *GENTLE, "mmcif=true", "residue=A", f"outdir={out}", "threads=1"])
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 3 and table["length"].between(8, 10).all()
    assert {"ca_ca_valid", "helix", "rama_allowed", "helix_right_handed", "rg_ratio"} <= set(table.columns)
    for row in table.itertuples():
        st = PDBParser(QUIET=True).get_structure("x", out / row.file)
        residues = list(st.get_residues())
        assert len(residues) == row.length and residues[0].get_resname() == "ALA"
        assert len(gemmi.read_structure(str(out / row.file.replace(".pdb", ".cif")))[0][0]) == row.length
    assert (out / "summary.md").read_text().count("|") > 10


def test_motif_scaffolding_cli_keeps_motif_coordinates(checkpoint, tmp_path):
    from molgen.io.chains import read_chains

    out = tmp_path / "motif"
    molgen_main(["sample", "task=backbone", f"ckpt={checkpoint}", "contig=3-5,D150-157,2-4",  # RFdiffusion style, unquoted
                 f"motif={RECEPTOR}", "n_samples=2", "steps=3", *GENTLE, f"outdir={out}", "threads=1"])
    table = pd.read_csv(out / "samples.csv")
    assert (table["motif_residues"] == 8).all() and (table["motif_rmsd"] < 1e-3).all()
    ref = read_chains(RECEPTOR)[0]
    ref_bb = ref.backbone[[list(ref.res_ids).index(str(r)) for r in range(150, 158)]]
    for row in table.itertuples():
        rec = read_chains(out / row.file)[0]
        start = int(row.layout.split(",")[0])
        np.testing.assert_allclose(rec.backbone[start:start + 8], ref_bb, atol=1e-3)
        assert rec.seq[start:start + 8] == ref.seq[list(ref.res_ids).index("150"):][:8]


def test_bad_inputs_are_clear_errors(checkpoint, tmp_path):
    from molgen.sampling_backbone import contig_text
    from molgen.sampling_common import parse_length

    assert parse_length("50-150") == (50, 150) and parse_length(100) == (100, 100)
    assert contig_text(["10-20", "A5-20", "10-20"]) == "10-20,A5-20,10-20" and contig_text(None) is None
    with pytest.raises(MolgenInputError, match="length"):
        parse_length("0")
    with pytest.raises(SystemExit, match="motif"):
        molgen_main(["sample", "task=backbone", f"ckpt={checkpoint}", "contig=5/A1-5/5", "n_samples=1",
                     f"outdir={tmp_path}"])


@pytest.mark.parametrize("mode,tol", [("oxygen", 0.25), ("ideal", 0.3)])
def test_rebuild_keeps_natural_backbones_close(mode, tol):
    from molgen.io.chains import read_chains
    from molgen.tasks.backbone import local_distance_error, rebuild_backbone

    bb = torch.as_tensor(read_chains(RECEPTOR)[0].backbone[:60], dtype=torch.float64)
    keep = torch.zeros(60, dtype=torch.bool)
    keep[:5] = True
    new = rebuild_backbone(bb, mode, keep)
    assert torch.equal(new[:5], bb[:5]) and torch.equal(new[:, 1], bb[:, 1])
    assert (new[5:-1] - bb[5:-1]).norm(dim=-1).mean() < tol
    batch = torch.zeros(240, dtype=torch.long)
    assert local_distance_error(bb.reshape(-1, 3), bb.reshape(-1, 3), batch) == 0
    assert local_distance_error(new.reshape(-1, 3), bb.reshape(-1, 3), batch) < 0.05


def test_task_refuses_mirror_blind_networks():
    from hydra.utils import instantiate

    from molgen.config import compose

    cfg = compose("train", ["task=backbone", "model=egnn_small", "hydra.run.dir=/tmp"])
    with pytest.raises(Exception, match="chirality-aware"):  # Hydra wraps the ValueError
        instantiate(cfg.task.module)


def test_pair_distance_error_counts_near_pairs_within_a_chain():
    from molgen.tasks.backbone import pair_distance_error

    true = torch.tensor([[0.0, 0, 0], [3.0, 0, 0], [0, 4.0, 0], [50.0, 0, 0]], dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1])
    assert pair_distance_error(true, true, batch) == 0
    pred = true.clone()
    pred[1, 0] = 2.0  # pair (0,1) 3 -> 2 A, pair (1,2) 5 -> sqrt(20) A; (0,2) unchanged
    expect = 2 * (1.0 + (20 ** 0.5 - 5) ** 2) / 6  # ordered pairs: 6 near (all < 6 A) in chain 0
    assert pair_distance_error(pred, true, batch).item() == pytest.approx(expect)
    # a far atom (> 6 A) moved does not count; nor does a chain masked out, nor a second chain
    far = true.clone()
    far[3] += 10.0
    assert pair_distance_error(far, true, batch) == 0
    assert pair_distance_error(pred, true, batch, mask=torch.tensor([False] * 3 + [True])) == 0
    moved = pred.clone()
    moved[3] = torch.tensor([1.0, 0, 0])  # chain 1 has a single atom: no pairs, no cross-chain pairs
    assert pair_distance_error(moved, true, batch).item() == pytest.approx(expect)


def test_pair_loss_enters_the_training_loss():
    """``pair_weight`` adds the pairwise-distance term at small t; 0 leaves the loss as it was."""
    from hydra.utils import instantiate

    from molgen.config import compose
    from molgen.tasks.base import Graphs

    pos, _, batch = _inputs()
    g = Graphs(pos=pos.float(), types=torch.arange(4).repeat(pos.shape[0] // 4), batch=batch, n_graphs=2)
    losses = {}
    for weight in (0.0, 2.0):
        cfg = compose("train", ["task=backbone", "model=backbone_net_cpu", f"task.module.pair_weight={weight}",
                                "task.module.geometry_t_max=1.01", "hydra.run.dir=/tmp"])
        torch.manual_seed(0)
        task = instantiate(cfg.task.module)
        losses[weight] = task.diffusion_loss(g, generator=torch.Generator().manual_seed(1))
    assert "loss_pair" not in losses[0.0]
    with_pair = losses[2.0]
    assert with_pair["loss_pair"] > 0
    torch.testing.assert_close(with_pair["loss"], losses[0.0]["loss"] + 2.0 * with_pair["loss_pair"])

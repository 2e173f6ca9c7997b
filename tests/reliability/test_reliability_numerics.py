"""Numerical faults: NaN/Inf while sampling is caught per sample (retried once, then reported, never
written); a NaN training batch is skipped with a warning and the weights stay finite."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from rdkit import Chem
from torch_geometric.loader import DataLoader

from molgen.checkpoint import load_checkpoint, save_checkpoint
from molgen.data.featurize import FOLLOW_BATCH, ComplexData
from molgen.sampling import SamplingJob, run_ligand_sampling


def _poison(net: torch.nn.Module, monkeypatch, when: Callable[[int], bool]) -> list[int]:
    """Make ``net`` return NaN for the atoms of graph 0 on the forward calls where ``when(call)``."""
    calls: list[int] = []
    forward = net.forward

    def poisoned(pos, h, t, batch, context=None):
        vec, scalars = forward(pos, h, t, batch, context)
        if when(len(calls)):
            vec = torch.where((batch == 0)[:, None], torch.full_like(vec, float("nan")), vec)
        calls.append(int(batch.max()) + 1)
        return vec, scalars

    monkeypatch.setattr(net, "forward", poisoned)
    return calls


def test_denoise_marks_the_non_finite_graph_only(make_tiny_task, demo_pocket, monkeypatch) -> None:
    from molgen.sampling import pocket_tensors

    task = make_tiny_task()
    _poison(task.net, monkeypatch, lambda call: True)
    pos, feat, center = pocket_tensors(demo_pocket, "full")
    out = task.generate(pos, feat, [5, 6, 7], center=center, steps=3,
                        generator=torch.Generator().manual_seed(0))
    assert [g.finite for g in out] == [False, True, True]
    assert all(bool(torch.isfinite(torch.as_tensor(g.pos)).all()) for g in out)


def _sdf_sample_ids(path: Path) -> list[int]:
    return [int(m.GetProp("sample")) for m in Chem.SDMolSupplier(str(path), sanitize=False) if m is not None]


def test_non_finite_sample_is_retried_then_reported_and_never_written(
        make_tiny_task, demo_pocket, monkeypatch, tmp_path, caplog) -> None:
    task = make_tiny_task()
    calls = _poison(task.net, monkeypatch, lambda call: True)  # graph 0 of every generate call diverges
    job = SamplingJob(outdir=tmp_path, n_samples=5, batch_size=3, n_atoms=(5, 5), steps=2, seed=0)
    with caplog.at_level(logging.WARNING, logger="molgen.sampling"):
        table = run_ligand_sampling(task, demo_pocket, job)
    assert sorted(table["sample"]) == [0, 1, 2, 3, 4]
    failed = table[~table["finite"].astype(bool)]
    assert sorted(failed["sample"]) == [0, 3], "graph 0 of each batch"
    assert set(failed["error"]) == {"non-finite coordinates in the sampling trajectory"}
    assert set(failed["retries"]) == {1} and set(table.loc[table["finite"], "retries"]) == {0}
    assert not failed["valid"].astype(bool).any()
    assert not {0, 3} & set(_sdf_sample_ids(tmp_path / "ligands.sdf")), "no coordinates of a failed sample"
    assert "went non-finite, drawing them again (retry 1 of 1)" in caplog.text
    assert calls.count(1) == 2 * 2, "one 1-graph retry per batch, 2 denoising steps each"
    csv = pd.read_csv(tmp_path / "samples.csv", keep_default_na=False)
    assert (csv["error"] == "non-finite coordinates in the sampling trajectory").sum() == 2


def test_retry_with_a_new_seed_recovers_the_sample(make_tiny_task, demo_pocket, monkeypatch,
                                                   tmp_path) -> None:
    task = make_tiny_task()
    _poison(task.net, monkeypatch, lambda call: call < 2)  # only the first generate call (2 steps) diverges
    generate, seeds = task.generate, []
    monkeypatch.setattr(task, "generate", lambda *a, **k: seeds.append(k["seeds"]) or generate(*a, **k))
    job = SamplingJob(outdir=tmp_path, n_samples=3, batch_size=3, n_atoms=(5, 5), steps=2)
    table = run_ligand_sampling(task, demo_pocket, job)
    assert len(seeds) == 2 and len(seeds[1]) == 1 and seeds[1][0] not in seeds[0], "a fresh prior seed"
    assert table["finite"].astype(bool).all()
    assert table.set_index("sample")["retries"].to_dict() == {0: 1, 1: 0, 2: 0}
    assert sorted(_sdf_sample_ids(tmp_path / "ligands.sdf")) == sorted(table.loc[table["valid"], "sample"])


def test_max_retries_zero_reports_at_once(make_tiny_task, demo_pocket, monkeypatch, tmp_path) -> None:
    task = make_tiny_task()
    calls = _poison(task.net, monkeypatch, lambda call: True)
    job = SamplingJob(outdir=tmp_path, n_samples=2, batch_size=2, n_atoms=(5, 5), steps=2, max_retries=0)
    table = run_ligand_sampling(task, demo_pocket, job)
    assert table.set_index("sample")["finite"].to_dict() == {0: False, 1: True}
    assert len(calls) == 2, "no retry"


def _complexes(n: int = 8) -> list[ComplexData]:
    g = torch.Generator().manual_seed(0)
    items = []
    for k in range(n):
        lig = torch.randn(6, 3, generator=g)
        pocket = torch.randn(20, 3, generator=g) * 4
        items.append(ComplexData(ligand_pos=lig, ligand_types=torch.randint(0, 9, (6,), generator=g),
                                 pocket_pos=pocket, pocket_feat=torch.rand(20, 27, generator=g), name=f"c{k}",
                                 smiles="", num_nodes=26))
    return items


class _SyntheticData(L.LightningDataModule):
    def train_dataloader(self) -> DataLoader:
        return DataLoader(_complexes(), batch_size=2, shuffle=False, follow_batch=FOLLOW_BATCH)


def test_nan_training_batch_is_skipped_and_weights_stay_finite(make_tiny_task, monkeypatch, tmp_path,
                                                               caplog) -> None:
    task = make_tiny_task().train()
    task.ema_decay = 0.9
    task.ema = type(task.net)(n_types=9, hidden=16, n_layers=2, context_dim=27, context_cutoff=6.0)
    task.ema.load_state_dict(task.net.state_dict())
    task.ema.requires_grad_(False)
    calls = _poison(task.net, monkeypatch, lambda call: call == 0)  # the first training step
    before = [p.detach().clone() for p in task.net.parameters()]
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="molgen.tasks.base"):
        trainer.fit(task, datamodule=_SyntheticData())
    assert "skipping batch 0 at step 0: non-finite loss nan" in caplog.text
    assert len(calls) == trainer.global_step == 3, "training went on after the skipped batch"
    assert all(bool(torch.isfinite(p).all()) for p in task.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, task.net.parameters())), "later steps trained"
    task.export_config = {"task": {}, "task_name": "ligand_pocket"}
    ckpt = load_checkpoint(save_checkpoint(task, tmp_path / "model.pt"))
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["state_dict"].values() if v.is_floating_point())

"""ComplexDataModule: group splits, loaders with follow_batch, ligand-size model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from molgen.data.datamodule import ComplexDataModule, split_by_group
from molgen.errors import MolgenInputError


def test_split_by_group_is_disjoint_and_seeded() -> None:
    groups = [f"t{i // 3}" for i in range(60)]  # 20 groups of 3
    train, val, test = split_by_group(groups, 0.2, 0.1, seed=1)
    assert sorted(train + val + test) == list(range(60))
    sets = [{groups[i] for i in part} for part in (train, val, test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert (len(sets[1]), len(sets[2])) == (4, 2)
    assert split_by_group(groups, 0.2, 0.1, seed=1) == (train, val, test)
    assert split_by_group(groups, 0.2, 0.1, seed=2) != (train, val, test)
    assert split_by_group(["a", "a"], 0.5) == ([0, 1], [], [])  # one group: all for training
    with pytest.raises(MolgenInputError, match="sum to < 1"):
        split_by_group(groups, 0.6, 0.5)


def test_datamodule_on_posebusters_mini(posebusters_mini: Path, dataset_cache: Path) -> None:
    dm = ComplexDataModule(
        posebusters_mini, "posebusters", cache_dir=dataset_cache, batch_size=4, val_fraction=0.2
    )
    dm.prepare_data()
    dm.setup("fit")
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 16, "val": 4, "test": 0}
    assert dm.dataset is not None
    batch = next(iter(dm.train_dataloader()))
    assert batch.num_graphs == 4 and batch.center.shape == (4, 3)
    assert batch.ligand_pos_batch.max().item() == 3 and batch.pocket_pos_batch.max().item() == 3
    assert batch.pocket_feat.shape[1] == dm.pocket_feature_dim == 27 and dm.n_atom_types == 9
    assert sum(b.num_graphs for b in dm.val_dataloader()) == 4
    assert dm.test_dataloader() == []
    model = dm.fit_ligand_size_model(n_bins=2)
    assert model.meta == {"pocket_mode": "full", "pocket_cutoff": 10.0}
    assert set(model.sizes) <= {n for _, n in dm.size_pairs("train")}


def test_prepare_data_then_setup_reads_the_dataset_once(posebusters_mini: Path, dataset_cache: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """``molgen train`` logged "posebusters dataset ... 20 complexes" twice: prepare_data built the
    dataset for the cache and setup read it again; now the process that built it keeps it."""
    with caplog.at_level(logging.INFO, logger="molgen.data.datasets.complexes"):
        dm = ComplexDataModule(posebusters_mini, "posebusters", cache_dir=dataset_cache, val_fraction=0.2)
        dm.prepare_data()
        dataset = dm.dataset
        dm.setup("fit")
    assert dm.dataset is dataset and len(dm.splits["train"]) == 16
    assert len([r for r in caplog.records if "posebusters dataset" in r.getMessage()]) == 1
    other_rank = ComplexDataModule(posebusters_mini, "posebusters", cache_dir=dataset_cache, val_fraction=0.2)
    other_rank.setup("fit")  # another DDP rank: no prepare_data, loads the cache rank 0 wrote
    assert other_rank.dataset.from_cache and other_rank.splits == dm.splits

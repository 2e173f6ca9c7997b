"""Replay of pretraining molecules during the pocket stage: the sampler's epochs, molecules as
pocketless complexes, mixed batches the pocket task trains on, and the datamodule wiring."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from molgen.data.featurize import FOLLOW_BATCH
from molgen.data.replay import PocketlessMolecules, ReplayDataModule, ReplaySampler
from molgen.errors import MolgenInputError

torch.set_num_threads(1)


def test_each_epoch_has_every_complex_once_and_fresh_replay_molecules():
    sampler = ReplaySampler(n_main=10, n_replay=12, n_replay_per_epoch=5, seed=3)
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == len(sampler) == 15
        counts = Counter(order)
        assert all(counts[i] == 1 for i in range(10))
        replay = [i for i in order if i >= 10]
        assert len(replay) == len(set(replay)) == 5 and max(replay) < 22
        epochs.append(order)
    assert not set(i for i in epochs[0] if i >= 10) & set(i for i in epochs[1] if i >= 10)
    assert epochs[0] != epochs[1]
    sampler.set_epoch(1)
    assert list(sampler) == epochs[1]  # an epoch is fixed by (seed, epoch): resumes continue it


def test_under_ddp_each_process_takes_its_share_and_epochs_still_move_on():
    """Two processes: disjoint halves of one epoch (the padding aside), fresh molecules next epoch;
    a DistributedSampler, so Lightning does not wrap it (its wrapper never sets this epoch)."""
    from torch.utils.data import DistributedSampler

    ranks = [ReplaySampler(n_main=10, n_replay=12, n_replay_per_epoch=5, seed=3, num_replicas=2, rank=r)
             for r in range(2)]
    one = ReplaySampler(n_main=10, n_replay=12, n_replay_per_epoch=5, seed=3)
    assert isinstance(one, DistributedSampler)
    seen = []
    for epoch in range(2):
        for s in (*ranks, one):
            s.set_epoch(epoch)
        halves = [list(s) for s in ranks]
        assert [len(h) for h in halves] == [len(s) for s in ranks] == [8, 8]
        whole = list(one)
        assert sorted(halves[0] + halves[1]) == sorted(whole + whole[:1])  # 15 padded to 16
        seen.append({i for h in halves for i in h if i >= 10})
    assert len(seen[0]) == 5 and not seen[0] & seen[1]
    with pytest.raises(MolgenInputError, match="rank 2 of 2"):
        ReplaySampler(10, 12, 5, num_replicas=2, rank=2)


def test_the_sampler_refuses_what_it_cannot_draw():
    with pytest.raises(MolgenInputError, match="only 4 available"):
        ReplaySampler(3, 4, 5)
    with pytest.raises(MolgenInputError, match="complexes and molecules"):
        ReplaySampler(0, 4, 1)


def _molecule(n: int) -> Data:
    bonds = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    return Data(pos=torch.randn(n, 3), atom_types=torch.zeros(n, dtype=torch.long),
                charges=torch.ones(n, dtype=torch.long), bond_index=bonds,
                bond_types=torch.ones(n - 1, dtype=torch.long), num_nodes=n)


def test_a_replayed_molecule_batches_beside_a_complex_with_an_empty_pocket():
    molecules = PocketlessMolecules([_molecule(5), _molecule(7)], pocket_dim=4)
    item, first = molecules[1], _complex(3)
    assert item.pocket_pos.shape == (0, 3) and item.pocket_feat.shape == (0, 4) and item.ligand_pos.shape == (7, 3)
    batch = next(iter(DataLoader([first, item, molecules[0]], batch_size=3, follow_batch=FOLLOW_BATCH)))
    assert torch.equal(batch.pocket_pos_batch.unique(), torch.tensor([0]))
    assert torch.equal(torch.bincount(batch.ligand_pos_batch), torch.tensor([3, 7, 5]))
    torch.testing.assert_close(batch.ligand_bond_index[:, 2:8], item.ligand_bond_index + 3)


class _Complexes:
    """The part of a complex datamodule the replay reads."""

    num_workers, pocket_feature_dim, n_atom_types = 0, 4, 9

    def __init__(self, items):
        self.items = items
        self.calls = []

    def subset(self, split):
        return self.items

    def prepare_data(self):
        self.calls.append("prepare")

    def setup(self, stage=None):
        self.calls.append("setup")

    def val_dataloader(self):
        return ["val"]

    def size_pairs(self, split="train"):
        return [(10, 3)]


class _Molecules:
    def __init__(self, items):
        self.items = items

    def prepare_data(self):
        pass

    def dataset(self, split):
        assert split == "train"
        return self.items


def _complex(n: int):
    from molgen.data.datasets.pose_complexes import BondComplexData

    m = _molecule(n)
    return BondComplexData(ligand_pos=m.pos, ligand_types=m.atom_types, ligand_charges=m.charges,
                           ligand_bond_index=m.bond_index, ligand_bond_types=m.bond_types,
                           pocket_pos=torch.randn(4, 3), pocket_feat=torch.randn(4, 4), center=torch.ones(1, 3), name="c", smiles="C",
                           num_nodes=n + 4)


def test_the_datamodule_mixes_the_share_asked_and_keeps_validation_on_the_complexes():
    main = _Complexes([_complex(3) for _ in range(6)])
    dm = ReplayDataModule(main, _Molecules([_molecule(4) for _ in range(30)]), replay_fraction=0.25,
                          batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    graphs = [g for b in dm.train_dataloader() for g in b.to_data_list()]
    assert len(graphs) == 8  # 6 complexes + round(6 * 0.25 / 0.75) = 2 molecules
    assert sum(g.pocket_pos.shape[0] == 0 for g in graphs) == 2
    assert dm.val_dataloader() == ["val"] and dm.size_pairs() == [(10, 3)]
    assert main.calls == ["prepare", "setup"] and dm.pocket_feature_dim == 4
    dm.trainer = type("DDPTrainer", (), {"world_size": 2, "global_rank": 1})()  # what the module reads
    sampler = dm.train_dataloader().sampler
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (2, 1, 4)
    with pytest.raises(MolgenInputError, match="replay_fraction"):
        ReplayDataModule(main, _Molecules([]), replay_fraction=1.0)

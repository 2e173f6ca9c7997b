"""Replay of the pretraining molecules while the pocket model fine-tunes (issue 18).

Fine-tuning the bond-aware model on a few hundred complexes forgets the chemistry it learned from
drug-like molecules: over the pocket stage QED fell 0.49 -> 0.41 on the same test pockets
(docs/benchmarks.md). :class:`ReplayDataModule` mixes molecules of the pretraining set into every
epoch of the complexes, each as a complex whose pocket is empty: the model sees them exactly as it
sees a complex whose pocket was dropped for classifier-free guidance, so they train its
unconditional path (and the chemistry that path shares with the conditional one). Validation,
the size model and everything else stay the complexes' own.
"""

from __future__ import annotations

from typing import Iterator

import lightning as L
import numpy as np
from torch.utils.data import ConcatDataset, Dataset, DistributedSampler
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from molgen.data.datamodule import ComplexDataModule
from molgen.data.datasets.pose_complexes import BondComplexData
from molgen.data.featurize import FOLLOW_BATCH
from molgen.data.ligand_size import LigandSizeModel
from molgen.data.molecule_datamodule import MoleculeDataModule
from molgen.errors import MolgenInputError

__all__ = ["PocketlessMolecules", "ReplayDataModule", "ReplaySampler"]


class PocketlessMolecules(Dataset):
    """Molecules (items with ``pos``, ``atom_types``, ``charges``, ``bond_index``, ``bond_types``)
    as :class:`~molgen.data.datasets.pose_complexes.BondComplexData` with an empty pocket of
    ``pocket_dim`` feature columns, in their own frame (``center`` zero, as the centred complexes
    carry one)."""

    def __init__(self, molecules: Dataset, pocket_dim: int) -> None:
        self.molecules, self.pocket_dim = molecules, int(pocket_dim)

    def __len__(self) -> int:
        return len(self.molecules)

    def __getitem__(self, i: int) -> BondComplexData:
        m: Data = self.molecules[i]
        n = int(m.pos.shape[0])
        return BondComplexData(ligand_pos=m.pos, ligand_types=m.atom_types, ligand_charges=m.charges,
                               ligand_bond_index=m.bond_index, ligand_bond_types=m.bond_types,
                               pocket_pos=m.pos.new_zeros(0, 3),
                               pocket_feat=m.pos.new_zeros(0, self.pocket_dim),
                               center=m.pos.new_zeros(1, 3), name=f"replay:{i}", smiles="", num_nodes=n)


class ReplaySampler(DistributedSampler):
    """Every epoch: all ``n_main`` indices and ``n_replay_per_epoch`` of the ``n_replay`` following
    them, shuffled together. Replay molecules are taken in order of one seeded permutation, so
    successive epochs see new ones until the set is used up; epoch ``e`` is fixed by ``(seed, e)``
    (Lightning calls :meth:`set_epoch`), so a resumed run continues the same sequence.

    Under DDP each of ``num_replicas`` processes takes every ``num_replicas``-th index of the epoch
    from its ``rank`` (the epoch padded from its start to a multiple, as ``DistributedSampler``
    does). It is a ``DistributedSampler`` so that Lightning uses it as it is: Lightning wraps any
    other sampler and sets only the wrapper's epoch, which would replay the same molecules each epoch.
    """

    def __init__(self, n_main: int, n_replay: int, n_replay_per_epoch: int, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0) -> None:
        # DistributedSampler.__init__ is not called: it wants a dataset and a process group
        if n_main < 1 or n_replay < 1:
            raise MolgenInputError(
                f"replay needs training complexes and molecules, got {n_main} and {n_replay}")
        if not 0 <= n_replay_per_epoch <= n_replay:
            raise MolgenInputError(
                f"{n_replay_per_epoch} replay molecules per epoch, only {n_replay} available")
        if not 0 <= rank < num_replicas:
            raise MolgenInputError(f"rank {rank} of {num_replicas} processes: need 0 <= rank < num_replicas")
        self.n_main, self.n_replay, self.per_epoch = n_main, n_replay, n_replay_per_epoch
        self.seed, self.num_replicas, self.rank = int(seed), int(num_replicas), int(rank)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-(self.n_main + self.per_epoch) // self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng(self.seed).permutation(self.n_replay)
        start = (self.epoch * self.per_epoch) % self.n_replay
        picked = np.roll(order, -start)[:self.per_epoch] + self.n_main
        both = np.concatenate([np.arange(self.n_main), picked])
        epoch = both[np.random.default_rng([self.seed, self.epoch]).permutation(len(both))]
        epoch = np.resize(epoch, len(self) * self.num_replicas)  # padded with its own start
        return iter(epoch[self.rank::self.num_replicas].tolist())


class ReplayDataModule(L.LightningDataModule):
    """The complexes of ``main`` with molecules of ``replay``'s training split mixed into each epoch.

    Args:
        main: the complexes (a :class:`~molgen.data.datamodule.PoseComplexDataModule`); its
            validation split, size model and pocket settings are this module's.
        replay: the pretraining molecules (e.g. an
            :class:`~molgen.data.molecule_datamodule.SDFMoleculeDataModule` on moses3d), already
            in their zero-CoM frame.
        replay_fraction: share of each epoch's training graphs that are replayed molecules (0 <= f < 1).
        batch_size: graphs per training batch (complexes and molecules together).
        seed: seed of the replay order and of the shuffling.
    """

    def __init__(self, main: ComplexDataModule, replay: MoleculeDataModule, replay_fraction: float = 0.33,
                 batch_size: int = 12, seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= float(replay_fraction) < 1.0:
            raise MolgenInputError(f"replay_fraction={replay_fraction}: expected 0 <= fraction < 1")
        self.main, self.replay = main, replay
        self.replay_fraction, self.batch_size, self.seed = float(replay_fraction), int(batch_size), int(seed)

    @property
    def n_atom_types(self) -> int:
        return self.main.n_atom_types

    @property
    def pocket_feature_dim(self) -> int:
        return self.main.pocket_feature_dim

    def prepare_data(self) -> None:
        self.main.prepare_data()
        self.replay.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.main.setup(stage)

    def train_dataloader(self) -> DataLoader:
        complexes = self.main.subset("train")
        molecules = PocketlessMolecules(self.replay.dataset("train"), self.main.pocket_feature_dim)
        f = self.replay_fraction
        per_epoch = min(len(molecules), int(round(len(complexes) * f / (1.0 - f))))
        trainer = self.trainer  # None outside a Trainer (one process)
        sampler = ReplaySampler(len(complexes), len(molecules), per_epoch, self.seed,
                                num_replicas=trainer.world_size if trainer else 1,
                                rank=trainer.global_rank if trainer else 0)
        return DataLoader(ConcatDataset([complexes, molecules]), batch_size=self.batch_size, sampler=sampler,
                          num_workers=self.main.num_workers, follow_batch=FOLLOW_BATCH)

    def val_dataloader(self):
        return self.main.val_dataloader()

    def test_dataloader(self):
        return self.main.test_dataloader()

    def size_pairs(self, split: str = "train") -> list[tuple[int, int]]:
        return self.main.size_pairs(split)

    def fit_ligand_size_model(self, split: str = "train", n_bins: int = 10) -> LigandSizeModel:
        return self.main.fit_ligand_size_model(split, n_bins)

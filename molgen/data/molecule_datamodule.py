"""LightningDataModule for unconditional molecules (QM9), zero centre of mass per molecule."""

from __future__ import annotations

import os
from collections.abc import Sequence

import lightning as L
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from molgen.data.datasets.qm9 import QM9_ELEMENTS, QM9Dataset
from molgen.data.datasets.qm9_bonds import QM9BondDataset
from molgen.data.datasets.sdf_molecules import SDFMoleculeDataset

__all__ = ["BondMoleculeDataModule", "MoleculeDataModule", "SDFMoleculeDataModule", "center_molecule"]


def center_molecule(data: Data) -> Data:
    """Subtract the centroid of ``pos`` (the zero-CoM frame of the unconditional process)."""
    data.pos = data.pos - data.pos.mean(0, keepdim=True)
    return data


class MoleculeDataModule(L.LightningDataModule):
    """QM9 splits (see :class:`~molgen.data.datasets.qm9.QM9Dataset`) as PyG batches.

    Args:
        source: QM9 as concatenated XYZ(.gz), a folder / tar of xyz files, or an SDF.
        elements: atom vocabulary (hydrogens explicit).
        split_sizes, split_seed, cache_dir, max_molecules: passed to the dataset.
        batch_size, num_workers: loader settings.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        elements: Sequence[str] = QM9_ELEMENTS,
        split_sizes: tuple[int, int] = (100_000, 8_000),
        split_seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        max_molecules: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.source, self.elements = source, tuple(elements)
        self.split_sizes, self.split_seed = (int(split_sizes[0]), int(split_sizes[1])), split_seed
        self.cache_dir, self.max_molecules = cache_dir, max_molecules
        self.batch_size, self.num_workers = batch_size, num_workers
        self.datasets: dict[str, QM9Dataset] = {}

    def dataset(self, split: str) -> QM9Dataset:
        if split not in self.datasets:
            self.datasets[split] = QM9Dataset(
                self.source, split, elements=self.elements, split_sizes=self.split_sizes,
                split_seed=self.split_seed, cache_dir=self.cache_dir, max_molecules=self.max_molecules,
                transform=center_molecule,
            )
        return self.datasets[split]

    def prepare_data(self) -> None:
        self.dataset("train")

    def setup(self, stage: str | None = None) -> None:
        self.dataset("train"), self.dataset("val")

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.dataset(split), batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def atom_count_histogram(self) -> dict[int, int]:
        """Atom counts of the training split (generated molecules draw their size from it)."""
        return self.dataset("train").atom_count_histogram()


class BondMoleculeDataModule(MoleculeDataModule):
    """QM9 with perceived bonds and charges (:class:`~molgen.data.datasets.qm9_bonds.QM9BondDataset`);
    same splits and arguments as :class:`MoleculeDataModule`, molecules without a bonding dropped."""

    def dataset(self, split: str) -> QM9BondDataset:
        if split not in self.datasets:
            self.datasets[split] = QM9BondDataset(
                self.source, split, elements=self.elements, split_sizes=self.split_sizes,
                split_seed=self.split_seed, cache_dir=self.cache_dir, max_molecules=self.max_molecules,
                transform=center_molecule,
            )
        return self.datasets[split]


class SDFMoleculeDataModule(MoleculeDataModule):
    """Molecules with bonds from SD files (:class:`~molgen.data.datasets.sdf_molecules.SDFMoleculeDataset`,
    e.g. the moses3d shards): drug-like pretraining data for the bond-aware model.

    Args:
        keep_hs: keep explicit hydrogens (default: heavy atoms, hydrogens implicit).
        other arguments: see :class:`MoleculeDataModule`.
    """

    def __init__(self, source, *, keep_hs: bool = False, **kwargs) -> None:
        super().__init__(source, **kwargs)
        self.keep_hs = bool(keep_hs)

    def dataset(self, split: str) -> SDFMoleculeDataset:
        if split not in self.datasets:
            self.datasets[split] = SDFMoleculeDataset(
                self.source, split, elements=self.elements, split_sizes=self.split_sizes,
                split_seed=self.split_seed, cache_dir=self.cache_dir, max_molecules=self.max_molecules,
                keep_hs=self.keep_hs, transform=center_molecule,
            )
        return self.datasets[split]

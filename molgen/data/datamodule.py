"""LightningDataModule for ligand-pocket complexes, split by target with a fixed seed."""

from __future__ import annotations

import os
from collections.abc import Sequence

import lightning as L
import numpy as np
from torch.utils.data import Subset
from torch_geometric.loader import DataLoader

from molgen.data.datasets.complexes import ComplexDataset
from molgen.data.featurize import FOLLOW_BATCH, pocket_feature_dim
from molgen.data.ligand_size import LigandSizeModel, fit_ligand_size_model
from molgen.data.transforms import CenterOnPocket
from molgen.data.vocab import DEFAULT_LIGAND_ELEMENTS, ElementVocab
from molgen.errors import MolgenInputError
from molgen.io.pocket import DEFAULT_POCKET_CUTOFF

__all__ = ["ComplexDataModule", "split_by_group"]


def split_by_group(
    groups: Sequence[str], val_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Indices ``(train, val, test)`` so that no group (target / PDB id) spans two splits.

    Groups are shuffled with ``numpy.random.default_rng(seed)``; the first ``round(fraction *
    n_groups)`` go to val, the next to test (at least one group each when the fraction is > 0
    and groups allow, always leaving one for training). Indices keep dataset order.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise MolgenInputError(
            f"val_fraction and test_fraction must be >= 0 and sum to < 1; got {val_fraction}, {test_fraction}"
        )
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    shuffled = [unique[i] for i in order]

    def count(fraction: float, left: int) -> int:
        if fraction <= 0 or left <= 1:
            return 0
        return min(max(1, round(fraction * len(unique))), left - 1)

    n_val = count(val_fraction, len(unique))
    n_test = count(test_fraction, len(unique) - n_val)
    val_groups = set(shuffled[:n_val])
    test_groups = set(shuffled[n_val : n_val + n_test])
    split: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, g in enumerate(groups):
        split[1 if g in val_groups else 2 if g in test_groups else 0].append(i)
    return split


class ComplexDataModule(L.LightningDataModule):
    """Ligand-pocket complexes of one folder (see :class:`ComplexDataset`), batched for training.

    Args:
        root, layout, index_file, pocket_mode, pocket_cutoff, pocket_source, cache_dir, limit:
            passed to :class:`ComplexDataset`.
        elements: ligand element vocabulary.
        center: apply :class:`CenterOnPocket` to every graph.
        val_fraction, test_fraction, seed: the group split (:func:`split_by_group`).
        batch_size, num_workers, pin_memory: PyG ``DataLoader`` settings (``follow_batch`` is
            :data:`~molgen.data.featurize.FOLLOW_BATCH`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        layout: str = "posebusters",
        *,
        index_file: str | None = None,
        elements: Sequence[str] = DEFAULT_LIGAND_ELEMENTS,
        pocket_mode: str = "full",
        pocket_cutoff: float = DEFAULT_POCKET_CUTOFF,
        pocket_source: str = "pocket10",
        cache_dir: str | os.PathLike[str] | None = None,
        center: bool = True,
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        seed: int = 0,
        batch_size: int = 8,
        num_workers: int = 0,
        pin_memory: bool = False,
        limit: int | None = None,
    ) -> None:
        super().__init__()
        self.root = root
        self.layout = layout
        self.index_file = index_file
        self.vocab = ElementVocab(tuple(elements))
        self.pocket_mode = pocket_mode
        self.pocket_cutoff = pocket_cutoff
        self.pocket_source = pocket_source
        self.cache_dir = cache_dir
        self.center = center
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.limit = limit
        self.dataset: ComplexDataset | None = None
        self.splits: dict[str, list[int]] = {}

    @property
    def n_atom_types(self) -> int:
        """Ligand atom-type channels (size of the element vocabulary)."""
        return len(self.vocab)

    @property
    def pocket_feature_dim(self) -> int:
        """Width of ``pocket_feat`` for this ``pocket_mode``."""
        return pocket_feature_dim(self.pocket_mode)

    def _make_dataset(self) -> ComplexDataset:
        return ComplexDataset(
            self.root, self.layout, index_file=self.index_file, vocab=self.vocab,
            pocket_mode=self.pocket_mode, pocket_cutoff=self.pocket_cutoff,
            pocket_source=self.pocket_source, cache_dir=self.cache_dir,
            transform=CenterOnPocket() if self.center else None, limit=self.limit,
        )  # fmt: skip

    def prepare_data(self) -> None:
        """Build the on-disk cache once (rank 0) so that every rank's ``setup`` just loads it; the
        process that built it keeps the dataset (``setup`` would read and log it a second time)."""
        if self.cache_dir is not None:
            self.setup()

    def setup(self, stage: str | None = None) -> None:
        """Load the dataset and split it by group (idempotent)."""
        if self.dataset is not None:
            return
        self.dataset = self._make_dataset()
        groups = self.dataset.groups
        train, val, test = split_by_group(groups, self.val_fraction, self.test_fraction, self.seed)
        self.splits = {"train": train, "val": val, "test": test}

    def subset(self, split: str) -> Subset:
        """The graphs of one split (``"train"``, ``"val"`` or ``"test"``)."""
        if self.dataset is None:
            self.setup()
        return Subset(self.dataset, self.splits[split])

    def _loader(self, split: str, shuffle: bool) -> DataLoader | list:
        subset = self.subset(split)
        if len(subset) == 0:
            return []
        return DataLoader(
            subset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
            pin_memory=self.pin_memory, follow_batch=FOLLOW_BATCH,
            persistent_workers=self.num_workers > 0,
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches (seeded by Lightning's ``seed_everything``)."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        """Validation batches (``[]`` when the split is empty)."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader | list:
        """Test batches (``[]`` when the split is empty)."""
        return self._loader("test", shuffle=False)

    def size_pairs(self, split: str = "train") -> list[tuple[int, int]]:
        """``(n_pocket_nodes, n_ligand_atoms)`` of the complexes of a split."""
        if self.dataset is None:
            self.setup()
        assert self.dataset is not None
        return self.dataset.size_pairs(self.splits[split])

    def fit_ligand_size_model(self, split: str = "train", n_bins: int = 10) -> LigandSizeModel:
        """:func:`fit_ligand_size_model` on a split, with the pocket settings in ``meta``."""
        meta = {"pocket_mode": self.pocket_mode, "pocket_cutoff": float(self.pocket_cutoff)}
        return fit_ligand_size_model(self.size_pairs(split), n_bins=n_bins, meta=meta)


class PoseComplexDataModule(ComplexDataModule):
    """The kept poses of a leakage manifest with their ligands' bonds
    (:class:`~molgen.data.datasets.pose_complexes.PoseComplexDataset`), split by complex.

    Args:
        manifest: the leakage manifest CSV; root: the folder its paths start from.
        other arguments: see :class:`ComplexDataModule`.
    """

    def __init__(self, manifest: str | os.PathLike[str], root: str | os.PathLike[str], **kwargs) -> None:
        super().__init__(root, **kwargs)
        self.manifest = manifest

    def _make_dataset(self):
        from molgen.data.datasets.pose_complexes import PoseComplexDataset

        return PoseComplexDataset(self.manifest, self.root, vocab=self.vocab, pocket_mode=self.pocket_mode,
                                  pocket_cutoff=self.pocket_cutoff, cache_dir=self.cache_dir,
                                  transform=CenterOnPocket() if self.center else None, limit=self.limit)

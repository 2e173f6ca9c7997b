"""LightningDataModule of protein backbone segments (:class:`ChainDataset`) for ``task=backbone``.

Train and validation items come from the same processed cache; the split is by source file (a
structure file's chains never sit in both splits), drawn with ``numpy.random.default_rng(seed)``.
Training items are cropped to a random length in ``crop_length`` at a random offset, redrawn each
epoch when the task calls :meth:`BackboneDataModule.set_epoch` (``BackboneTask`` does so at every
epoch start); validation items use a fixed crop (``val_crop_length``, epoch 0).

Loader workers are not persistent, so each epoch's workers see the new epoch's crops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import lightning as L
import numpy as np
from torch.utils.data import Subset
from torch_geometric.loader import DataLoader

from molgen.data.datasets.chains import ChainDataset

__all__ = ["BackboneDataModule", "split_by_file"]

FileSpec = Sequence[str | os.PathLike[str]] | Mapping[str, Sequence[str | os.PathLike[str]] | str]


def split_by_file(names: Sequence[str], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(train, val)`` of segments named ``"<file>:<chain>/<k>"``, grouped by file."""
    files = sorted({n.split(":", 1)[0] for n in names})
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = int(round(val_fraction * len(files)))
    if val_fraction > 0 and len(files) > 1:
        n_val = min(max(n_val, 1), len(files) - 1)
    val_files = {files[i] for i in order[:n_val]}
    train = [i for i, n in enumerate(names) if n.split(":", 1)[0] not in val_files]
    val = [i for i, n in enumerate(names) if n.split(":", 1)[0] in val_files]
    return train, val


class BackboneDataModule(L.LightningDataModule):
    """Backbone segments as PyG batches (fields: ``backbone [R, 4, 3]``, ``residue_index``, ...).

    Args:
        files: chain files (paths / globs, or ``{source: patterns}``), see :class:`ChainDataset`.
        cache_dir: where the processed segments are cached.
        min_length, max_length, dedupe: segment filters.
        held_out, held_out_identity: drop segments at least this identical to a chain of these
            files (the test set), see :func:`~molgen.data.datasets.chains.cache_chains`.
        crop_length: training crop, an int or an inclusive ``[min, max]`` range.
        val_crop_length: fixed crop of validation items (None: uncropped).
        val_fraction: share of source files held out for validation.
        seed: split and crop seed.
        batch_size, num_workers: loader settings.
    """

    def __init__(
        self,
        files: FileSpec,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        min_length: int = 40,
        max_length: int | None = None,
        dedupe: bool = True,
        held_out: FileSpec | None = None,
        held_out_identity: float = 0.4,
        crop_length: int | Sequence[int] | None = (50, 128),
        val_crop_length: int | None = 128,
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 8,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        # a source set to null is left out
        self.files = {k: list(v) if not isinstance(v, str) else v for k, v in files.items()
                      if v is not None} if isinstance(files, Mapping) else list(files)
        self.cache_dir, self.dedupe = cache_dir, dedupe
        self.held_out, self.held_out_identity = held_out, float(held_out_identity)
        self.min_length, self.max_length = min_length, max_length
        self.crop_length = crop_length if crop_length is None or isinstance(crop_length, int) \
            else tuple(crop_length)
        self.val_crop_length = val_crop_length
        self.val_fraction, self.seed = float(val_fraction), int(seed)
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.train_set: Subset | None = None
        self.val_set: Subset | None = None

    def _dataset(self, crop) -> ChainDataset:
        return ChainDataset(self.files, cache_dir=self.cache_dir, min_length=self.min_length,
                            max_length=self.max_length, dedupe=self.dedupe, held_out=self.held_out,
                            held_out_identity=self.held_out_identity, crop_length=crop,
                            seed=self.seed, center=True, with_frames=False)

    def prepare_data(self) -> None:
        self._dataset(self.crop_length)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_ds = self._dataset(self.crop_length)
        val_ds = self._dataset(self.val_crop_length)
        train_idx, val_idx = split_by_file(train_ds.names, self.val_fraction, self.seed)
        self.train_set, self.val_set = Subset(train_ds, train_idx), Subset(val_ds, val_idx)

    def set_epoch(self, epoch: int) -> None:
        """New training crops for ``epoch``."""
        if self.train_set is not None:
            self.train_set.dataset.set_epoch(epoch)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                          num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_set:
            return []
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers)

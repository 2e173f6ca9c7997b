"""QM9 with bonds and formal charges, perceived once from each molecule's geometry.

The molecules and split are exactly :class:`~molgen.data.datasets.qm9.QM9Dataset`'s; on top, the
bonds of every molecule are perceived with :func:`molgen.chem.bond_graph.perceive_bonds` (RDKit
``DetermineBonds`` for a neutral molecule, kekulized) the first time and cached beside the QM9 cache
(``<cache>.bonds.pt``). Molecules RDKit finds no consistent bonding for are dropped from every split;
their number is logged and kept (:attr:`QM9BondDataset.n_dropped`). On the shared file that is
6,797 of 128,744 molecules (5.3 %; ``python -m molgen.data.datasets.qm9_bonds`` reports it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from molgen.data.datasets.bond_tensors import BondTensors, BondTensorSplit
from molgen.data.datasets.qm9 import QM9_ELEMENTS, QM9Dataset
from molgen.io.atomic import atomic_path

__all__ = ["QM9BondDataset", "cache_qm9_bonds"]

log = logging.getLogger(__name__)

_BONDS_VERSION = 1


def cache_qm9_bonds(qm9: QM9Dataset, progress: bool = False) -> Path:
    """Perceive the bonds of every molecule of ``qm9``'s cache once; return the bonds cache file."""
    from rdkit import RDLogger

    from molgen.chem.bond_graph import perceive_bonds

    path = qm9.cache_path.with_suffix(".bonds.pt")
    if path.exists():
        return path
    n_total = len(qm9._names)
    log.info("perceiving bonds of %d QM9 molecules into %s (about half a minute)", n_total, path)
    RDLogger.DisableLog("rdApp.*")
    ok = np.zeros(n_total, dtype=bool)
    charges, bonds, n_bonds = [], [], np.zeros(n_total, dtype=np.int64)
    try:
        for m in range(n_total):
            pos, elements = qm9._source_molecule(m)
            g = perceive_bonds(pos, list(elements))
            n = pos.shape[0]
            if g is None:
                charges.append(np.zeros(n, dtype=np.int8))
                continue
            ok[m] = True
            charges.append(g.charges.astype(np.int8))
            bonds.append(g.bonds.astype(np.int16))
            n_bonds[m] = g.bonds.shape[0]
    finally:
        RDLogger.EnableLog("rdApp.*")
    blob = {
        "version": _BONDS_VERSION,
        "ok": torch.from_numpy(ok),
        "charges": torch.from_numpy(np.concatenate(charges)),
        "bonds": torch.from_numpy(np.concatenate(bonds) if bonds else np.zeros((0, 3), np.int16)),
        "bond_offsets": torch.from_numpy(np.concatenate([[0], np.cumsum(n_bonds)])),
    }
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    log.info("QM9 bonds: %d of %d molecules perceived, %d dropped", int(ok.sum()), n_total, int((~ok).sum()))
    return path


class QM9BondDataset(BondTensorSplit):
    """One split of QM9 as ``Data`` with ``pos``, ``atom_types``, ``charges`` (index into
    :data:`~molgen.chem.bond_graph.CHARGES`), ``bond_index`` ``long [2, K]`` (``i < j``) and
    ``bond_types`` ``long [K]`` (index into :data:`~molgen.chem.bond_graph.BOND_TYPES`, > 0).

    Arguments as :class:`~molgen.data.datasets.qm9.QM9Dataset`; molecules without a perceived
    bonding are left out (:attr:`n_dropped` of this split).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        split: str = "train",
        *,
        elements: Sequence[str] = QM9_ELEMENTS,
        split_sizes: tuple[int, int] = (100_000, 8_000),
        split_seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        max_molecules: int | None = None,
        transform: Callable[[Data], Data] | None = None,
    ) -> None:
        self.qm9 = QM9Dataset(source, split, elements=elements, split_sizes=split_sizes,
                              split_seed=split_seed, cache_dir=cache_dir, max_molecules=max_molecules)
        self.elements = self.qm9.elements
        self.transform = transform
        blob = torch.load(cache_qm9_bonds(self.qm9), weights_only=True)
        self._ok = blob["ok"].numpy()
        self.tensors = BondTensors(self.qm9._pos, self.qm9._types, blob["charges"], self.qm9._offsets,
                                   blob["bonds"], blob["bond_offsets"])
        keep = self._ok[self.qm9.indices]
        self.indices = self.qm9.indices[keep]
        self.n_dropped = int((~keep).sum())
        if self.n_dropped:
            log.info("QM9 %s: %d of %d molecules dropped (no bond assignment)", split, self.n_dropped, keep.size)


if __name__ == "__main__":  # pragma: no cover - reports the perception counts of the shared file
    import sys

    logging.basicConfig(level=logging.INFO)
    src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/qm9/qm9_hcno.xyz.gz"
    ds = QM9BondDataset(src, "all")
    print(f"{len(ds)} of {len(ds) + ds.n_dropped} molecules kept, {ds.n_dropped} dropped")

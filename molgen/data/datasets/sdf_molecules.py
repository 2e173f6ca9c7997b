"""Molecules with their bonds from SD files (drug-like 3D sets such as ``../shared/data/moses3d``),
for pretraining the bond-aware model without a pocket.

``source`` is an SD file (``.sdf`` / ``.sdf.gz``) or a folder of them (read in name order, e.g. the
moses3d shards). Each molecule is read with RDKit (sanitized, hydrogens removed unless
``keep_hs``), kekulized, and kept when every element is in ``elements`` and every formal charge is
-1, 0 or +1; the others are counted (logged and in :attr:`SDFMoleculeDataset.n_dropped`), never
silently mixed in. A record RDKit cannot parse is an error naming the file and record.

Parsing happens once: the molecules are cached as :class:`~molgen.data.datasets.bond_tensors.BondTensors`
under ``cache_dir`` keyed by the source's fingerprint and the options. The split is a seeded
permutation: ``split_sizes = (n_train, n_val)``, the test split the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from molgen.data.datasets.bond_tensors import BondTensors, BondTensorSplit
from molgen.data.datasets.qm9 import _source_fingerprint, default_cache_dir, qm9_split_indices
from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path

__all__ = ["SDFMoleculeDataset", "sdf_files"]

log = logging.getLogger(__name__)

_VERSION = 1


def sdf_files(source: Path) -> list[Path]:
    """The SD files of ``source`` (a file, or a folder's ``*.sdf`` / ``*.sdf.gz`` in name order)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.name.lower().endswith((".sdf", ".sdf.gz")))
        if not files:
            raise MolgenInputError(f"{source}: no .sdf or .sdf.gz file in this folder")
        return files
    if not source.exists():
        raise MolgenInputError(f"{source}: no such file or folder")
    return [source]


def _read(files: list[Path], elements: Sequence[str], max_molecules: int | None, keep_hs: bool):
    from rdkit import Chem, RDLogger

    from molgen.chem.bond_graph import CHARGES, graph_from_mol

    graphs, dropped = [], {"element": 0, "charge": 0, "unsanitizable": 0}
    allowed = set(elements)
    RDLogger.DisableLog("rdApp.*")
    try:
        for path in files:
            with (gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")) as fh:
                for k, mol in enumerate(Chem.ForwardSDMolSupplier(fh, sanitize=True, removeHs=not keep_hs)):
                    if max_molecules is not None and len(graphs) >= max_molecules:
                        return graphs, dropped
                    if mol is None:
                        dropped["unsanitizable"] += 1
                        continue
                    if mol.GetNumConformers() == 0 or not mol.GetConformer().Is3D():
                        raise MolgenInputError(f"{path}: molecule {k + 1} has no 3D coordinates")
                    if not {a.GetSymbol() for a in mol.GetAtoms()} <= allowed:
                        dropped["element"] += 1
                        continue
                    if any(a.GetFormalCharge() not in CHARGES for a in mol.GetAtoms()):
                        dropped["charge"] += 1
                        continue
                    graphs.append(graph_from_mol(mol))
    finally:
        RDLogger.EnableLog("rdApp.*")
    return graphs, dropped


class SDFMoleculeDataset(BondTensorSplit):
    """One split of the molecules of SD files, items as :meth:`BondTensors.item` (``pos`` centred
    by the ``transform`` the datamodule passes).

    Args:
        source: an SD file or a folder of them.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        elements: element vocabulary (``atom_types`` index into it); other molecules are dropped.
        split_sizes: ``(n_train, n_val)``; the test split gets the rest.
        split_seed: seed of the permutation.
        cache_dir: where the parsed tensors go (default: molgen's cache folder).
        max_molecules: keep only the first this many kept molecules (quick runs).
        keep_hs: keep explicit hydrogens (default: heavy atoms only, as molgen's ligands).
        transform: callable applied to each item.
    """

    def __init__(self, source: str | os.PathLike[str], split: str = "train", *, elements: Sequence[str],
                 split_sizes: tuple[int, int] = (140_000, 5_000), split_seed: int = 0,
                 cache_dir: str | os.PathLike[str] | None = None, max_molecules: int | None = None,
                 keep_hs: bool = False, transform: Callable[[Data], Data] | None = None) -> None:
        if split not in ("train", "val", "test", "all"):
            raise MolgenInputError(f"split={split!r}: expected one of train, val, test, all")
        self.source, self.elements, self.transform = Path(source), tuple(elements), transform
        files = sdf_files(self.source)
        key = hashlib.sha256(json.dumps({"v": _VERSION, "files": [_source_fingerprint(f) for f in files],
                                         "elements": list(self.elements), "max": max_molecules,
                                         "hs": keep_hs}, sort_keys=True).encode()).hexdigest()[:16]
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir().parent / "sdf"
        self.cache_path = cache / f"sdf_{key}.pt"
        if not self.cache_path.exists():
            log.info("reading %d SD file(s) from %s into %s", len(files), self.source, self.cache_path)
            graphs, dropped = _read(files, self.elements, max_molecules, keep_hs)
            if not graphs:
                raise MolgenInputError(f"{self.source}: no molecule with elements {self.elements} and charges -1..1")
            with atomic_path(self.cache_path) as tmp:
                torch.save({**BondTensors.from_graphs(graphs, self.elements).to_dict(), "dropped": dropped}, tmp)
        blob = torch.load(self.cache_path, weights_only=True)
        self.tensors = BondTensors.from_dict(blob)
        self.dropped: dict[str, int] = dict(blob["dropped"])
        if sum(self.dropped.values()):
            log.info("%s: %d molecules kept, dropped %s", self.source, self.tensors.n_molecules, self.dropped)
        n = self.tensors.n_molecules
        self.indices = np.arange(n) if split == "all" else qm9_split_indices(n, split_sizes, split_seed)[split]

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())


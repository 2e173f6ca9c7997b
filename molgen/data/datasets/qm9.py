"""QM9 with hydrogens for unconditional 3D generation, split and cached the way EDM uses it.

Sources (picked by what ``source`` is):

- a concatenated XYZ file, plain or ``.gz`` (``shared/data/qm9/qm9_hcno.xyz.gz``);
- a folder of QM9's original ``dsgdb9nsd_*.xyz`` files, or the tar archive they ship in;
- an SDF, plain or ``.gz`` (``gdb9.sdf``), read with RDKit keeping hydrogens, unsanitised.

QM9's own distributions (``gdb9.sdf``, the original tarball) hold all 133,885 molecules, the
3,054 "uncharacterised" ones and the F-containing ones included: nothing here drops those (the
shared ``qm9_hcno.xyz.gz`` has them removed already); F needs ``elements`` extended or
``skip_unknown_elements=True``.

Molecules keep the source's order (QM9 ids ascending). The split is a permutation of the
``M`` molecules by ``numpy.random.RandomState(split_seed).permutation(M)``: the first
``split_sizes[0]`` are train, the next ``split_sizes[1]`` val, the rest test; each split is then
sorted back into source order. Defaults: seed 0, 100,000 train / 8,000 val / rest test, i.e.
100,000 / 8,000 / 20,744 of the shared file's 128,744 H/C/N/O molecules. (EDM took 100,000 /
17,748 / 13,083 of QM9's 130,831 characterised molecules, F included, with the same legacy
``np.random.seed(0)`` permutation but over its own molecule list, so the members differ.)

Parsing happens once: the molecules are written as one ``.pt`` of concatenated tensors plus
offsets under ``cache_dir``, keyed by a hash of the source's path, size and mtime (every file's
for a folder), the element vocabulary and the reading options. Later loads read that file only.
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
from rdkit import Chem
from torch_geometric.data import Data

from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path, write_atomic
from molgen.io.xyz import XYZMolecule, is_xyz_archive, read_xyz, read_xyz_archive, read_xyz_dir

__all__ = [
    "QM9_ELEMENTS",
    "QM9Dataset",
    "cache_qm9",
    "default_cache_dir",
    "qm9_split_indices",
]

log = logging.getLogger(__name__)

QM9_ELEMENTS: tuple[str, ...] = ("H", "C", "N", "O")
"""Default element vocabulary: ``atom_types`` index into it (QM9 without F)."""

_CACHE_VERSION = 2
_SPLITS = ("train", "val", "test", "all")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/molgen/qm9`` (``~/.cache/molgen/qm9``); pass ``cache_dir`` to change."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "molgen" / "qm9"


def qm9_split_indices(
    n_molecules: int, split_sizes: tuple[int, int] = (100_000, 8_000), seed: int = 0
) -> dict[str, np.ndarray]:
    """Train/val/test molecule indices (each sorted) from a seeded permutation; see module doc.

    Raises:
        MolgenInputError: train + val leave no test molecule.
    """
    n_train, n_val = (int(s) for s in split_sizes)
    if n_train < 0 or n_val < 0 or n_train + n_val >= n_molecules:
        raise MolgenInputError(
            f"split_sizes={tuple(split_sizes)}: train + val must be below the {n_molecules} "
            f"molecules available (lower them, e.g. for a max_molecules subset)"
        )
    perm = np.random.RandomState(seed).permutation(n_molecules)
    parts = np.split(perm, [n_train, n_train + n_val])
    return {name: np.sort(part) for name, part in zip(("train", "val", "test"), parts)}


def _source_fingerprint(source: Path) -> dict[str, object]:
    if source.is_dir():
        entries = []
        for p in source.iterdir():
            if p.is_file():
                st = p.stat()
                entries.append((p.name, st.st_size, st.st_mtime_ns))
        entries.sort()
        digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
        return {"path": str(source.resolve()), "folder": digest}
    st = source.stat()
    return {"path": str(source.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cache_key(source: Path, elements: Sequence[str], max_molecules: int | None, skip: bool) -> str:
    blob = {
        "version": _CACHE_VERSION,
        "source": _source_fingerprint(source),
        "elements": list(elements),
        "max_molecules": max_molecules,
        "skip_unknown_elements": skip,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _is_sdf(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".sdf", ".sdf.gz"))


def _sdf_record(mol: Chem.Mol | None, path: Path, k: int) -> XYZMolecule:
    if mol is None:
        raise MolgenInputError(f"{path}: record {k + 1} cannot be parsed")
    if mol.GetNumConformers() == 0 or mol.GetNumAtoms() == 0:
        raise MolgenInputError(f"{path}: record {k + 1} has no atoms or no coordinates")
    name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
    element = np.array([a.GetSymbol() for a in mol.GetAtoms()], dtype="<U2")
    pos = mol.GetConformer().GetPositions().astype(np.float32)
    return XYZMolecule(name or f"{path.name.split('.')[0]}_{k}", element, pos, name)


def _read_sdf(path: Path, max_molecules: int | None) -> list[XYZMolecule]:
    """Hydrogens kept, no sanitisation: QM9's SDF has records RDKit would reject."""
    out: list[XYZMolecule] = []
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            for k, mol in enumerate(Chem.ForwardSDMolSupplier(fh, removeHs=False, sanitize=False)):
                if max_molecules is not None and len(out) >= max_molecules:
                    break
                out.append(_sdf_record(mol, path, k))
    except (OSError, EOFError) as exc:
        raise MolgenInputError(f"{path}: cannot read: {exc}") from exc
    if not out:
        raise MolgenInputError(f"{path}: no molecule in file")
    return out


def _read_source(source: Path, max_molecules: int | None) -> list[XYZMolecule]:
    if not source.exists():
        raise MolgenInputError(f"{source}: no such file or folder")
    if source.is_dir():
        return read_xyz_dir(source, max_molecules=max_molecules)
    if is_xyz_archive(source):
        return read_xyz_archive(source, max_molecules=max_molecules)
    if _is_sdf(source):
        return _read_sdf(source, max_molecules)
    return read_xyz(source, max_molecules=max_molecules)


def _encode(
    molecules: list[XYZMolecule], elements: Sequence[str], source: Path, skip: bool
) -> dict[str, object]:
    """Concatenate molecules into tensors; unknown elements raise or drop the molecule."""
    lookup = {e: i for i, e in enumerate(elements)}
    kept = []
    for m in molecules:
        unknown = sorted(set(m.element.tolist()) - lookup.keys())
        if unknown and not skip:
            raise MolgenInputError(
                f"{source}: molecule {m.name} has element(s) {', '.join(unknown)} outside the "
                f"vocabulary {tuple(elements)} (extend `elements` or set skip_unknown_elements)"
            )
        if not unknown:
            kept.append(m)
    if not kept:
        raise MolgenInputError(f"{source}: no molecule left with elements {tuple(elements)}")
    if len(kept) < len(molecules):
        log.warning("%s: skipped %d molecules with unknown elements", source, len(molecules) - len(kept))
    counts = np.array([m.n_atoms for m in kept], dtype=np.int64)
    all_elements = np.concatenate([m.element for m in kept])
    vocab = np.array(list(elements), dtype="<U2")
    order = np.argsort(vocab)
    types = order[np.searchsorted(vocab[order], all_elements)]
    return {
        "version": _CACHE_VERSION,
        "source": str(source),
        "elements": list(elements),
        "pos": torch.from_numpy(np.concatenate([m.pos for m in kept]).astype(np.float32)),
        "atom_types": torch.from_numpy(types.astype(np.uint8)),
        "offsets": torch.from_numpy(np.concatenate([[0], np.cumsum(counts)])),
        "names": "\n".join(m.name for m in kept),  # one string: unpickles fast
    }


def cache_qm9(
    source: str | os.PathLike[str],
    *,
    elements: Sequence[str] = QM9_ELEMENTS,
    cache_dir: str | os.PathLike[str] | None = None,
    max_molecules: int | None = None,
    skip_unknown_elements: bool = False,
) -> Path:
    """Parse ``source`` into the cache unless it is already there; return the cache file.

    Args:
        source: concatenated XYZ(.gz), folder or tar of XYZ files, or SDF(.gz).
        elements: element vocabulary; ``atom_types`` are indices into it (at most 256).
        cache_dir: where processed files go (default :func:`default_cache_dir`).
        max_molecules: keep only the first this many molecules of the source (quick runs).
        skip_unknown_elements: drop molecules with elements outside ``elements`` instead of
            raising (e.g. ``gdb9.sdf``'s fluorine molecules with the default vocabulary).
    """
    source = Path(source)
    if not source.exists():
        raise MolgenInputError(f"{source}: no such file or folder")
    if len(set(elements)) != len(elements) or not 0 < len(elements) <= 256:
        raise MolgenInputError(f"elements={tuple(elements)}: need 1 to 256 distinct symbols")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"qm9_{_cache_key(source, elements, max_molecules, skip_unknown_elements)}.pt"
    if not path.exists():
        log.info("processing %s into %s", source, path)
        molecules = _read_source(source, max_molecules)
        with atomic_path(path) as tmp:
            torch.save(_encode(molecules, elements, source, skip_unknown_elements), tmp)
    return path


class QM9Dataset(torch.utils.data.Dataset):
    """One split of QM9 as ``torch_geometric`` ``Data`` items.

    Each item has ``pos`` ``float32 [N, 3]`` (Angstrom, as in the source, not centred),
    ``atom_types`` ``long [N]`` (indices into ``elements``) and ``name`` (QM9 id).

    Args:
        source: see :func:`cache_qm9`.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (every molecule, source order).
        elements, cache_dir, max_molecules, skip_unknown_elements: see :func:`cache_qm9`.
        split_sizes: ``(n_train, n_val)``; the test split gets the rest.
        split_seed: seed of the permutation (:func:`qm9_split_indices`).
        transform: optional callable applied to each ``Data`` on access.
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
        skip_unknown_elements: bool = False,
        transform: Callable[[Data], Data] | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise MolgenInputError(f"split={split!r}: expected one of {', '.join(_SPLITS)}")
        self.source = Path(source)
        self.split = split
        self.transform = transform
        self.cache_path = cache_qm9(
            source,
            elements=elements,
            cache_dir=cache_dir,
            max_molecules=max_molecules,
            skip_unknown_elements=skip_unknown_elements,
        )
        try:
            blob = torch.load(self.cache_path, weights_only=True)
        except Exception as exc:  # corrupted cache: say where it is
            raise MolgenInputError(f"{self.cache_path}: unreadable QM9 cache ({exc}); delete it") from exc
        self.elements: tuple[str, ...] = tuple(blob["elements"])
        self._pos: torch.Tensor = blob["pos"]
        self._types: torch.Tensor = blob["atom_types"]
        self._offsets: torch.Tensor = blob["offsets"]
        self._names: list[str] = blob["names"].split("\n")
        n_total = len(self._names)
        if split == "all":
            self.indices = np.arange(n_total)
        else:
            self.indices = qm9_split_indices(n_total, split_sizes, split_seed)[split]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, i: int) -> Data:
        m = int(self.indices[i])
        lo, hi = int(self._offsets[m]), int(self._offsets[m + 1])
        data = Data(pos=self._pos[lo:hi].clone(), atom_types=self._types[lo:hi].long(), name=self._names[m])
        return self.transform(data) if self.transform is not None else data

    @property
    def names(self) -> list[str]:
        """QM9 ids of this split's molecules, in item order."""
        return [self._names[m] for m in self.indices.tolist()]

    @property
    def n_atoms(self) -> np.ndarray:
        """``int64 [len(self)]`` atom counts of this split's molecules (for size-aware batching)."""
        counts = (self._offsets[1:] - self._offsets[:-1]).numpy()
        return counts[self.indices]

    def atom_count_histogram(self) -> dict[int, int]:
        """``{n_atoms: n_molecules}`` over this split, ascending: call it on the train split to
        draw the number of atoms of a generated molecule (EDM's ``DistributionNodes``)."""
        sizes, counts = np.unique(self.n_atoms, return_counts=True)
        return {int(s): int(c) for s, c in zip(sizes, counts)}

    def molecule(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(pos float32 [N,3], element <U2 [N])`` of item ``i``: the metrics' input."""
        return self._source_molecule(int(self.indices[i]))

    def _source_molecule(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self._offsets[m]), int(self._offsets[m + 1])
        vocab = np.array(self.elements, dtype="<U2")
        return self._pos[lo:hi].numpy(), vocab[self._types[lo:hi].numpy().astype(np.int64)]

    def smiles_set(self) -> set[str]:
        """EDM's reference SMILES of this split (novelty uses the train split's).

        SMILES of every molecule of the cache are computed once with
        :func:`molgen.metrics.stability.edm_reference_smiles` (about a minute for all of QM9)
        and stored next to the cache; molecules RDKit cannot sanitise are left out, as in EDM.
        """
        path = self.cache_path.with_suffix(".smiles.txt")
        if path.exists():
            smiles = path.read_text().split("\n")
        else:
            from molgen.metrics.stability import edm_reference_smiles

            ref = edm_reference_smiles(self._source_molecule(m) for m in range(len(self._names)))
            smiles = [s or "" for s in ref]
            write_atomic(path, "\n".join(smiles))
        return {smiles[m] for m in self.indices.tolist() if smiles[m]}

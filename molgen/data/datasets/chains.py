"""Protein chain segments for backbone generation: parse once, cache, crop at random on access.

Pipeline per source file (:mod:`molgen.io.chains`): read every protein chain (first model,
standard amino acids, best altloc), drop residues missing any of N/CA/C/O, split at chain breaks
(C(i)-N(i+1) > 2.0 A), keep segments of ``min_length`` residues or more (and at most
``max_length`` if set); optionally drop exact-sequence duplicates (homo-oligomer copies,
repeated receptors), keeping the first; optionally drop every segment at least
``held_out_identity`` identical (:func:`molgen.protein.sequence.sequence_identity`) to a chain of
the ``held_out`` files (the test set: no leakage).

Default pool (see :func:`training_chain_files`): the protein chains of PoseBusters 308, the
100 CrossDocked test receptors and the 92 FEP-benchmark proteins; TS50 is held out for
evaluation (``conf/data/backbone.yaml`` drops chains >= 40 % identical to a TS50 chain).

The processed segments are saved once under ``cache_dir`` as one ``.pt`` of concatenated tensors
plus offsets, keyed by a hash of the files (path, size, mtime) and the filter settings.

Each item is a ``torch_geometric.data.Data`` of one segment, cropped to a random contiguous window
when longer than the crop length (a fixed ``crop_length`` or one drawn from a ``(min, max)``
range per access); the draw uses ``numpy.random.default_rng([seed, epoch, index])``, so it is
reproducible, differs per epoch (:meth:`ChainDataset.set_epoch`) and is the same in any
DataLoader worker. Fields:

================  ================  ==================================================
``backbone``      ``[L, 4, 3]``     N, CA, C, O, Angstrom (centred on the CA centroid if
                  float32           ``center``)
``pos``           ``[L, 3]``        CA (= ``backbone[:, 1]``), the frame translations
``rotmats``       ``[L, 3, 3]``     residue frames (:func:`molgen.protein.geometry.frames_from_backbone`)
``residue_index`` ``[L]`` long      0..L-1 (a segment has no gaps)
``name``, ``seq`` ``str``           segment name with crop, ``"<file>:<chain>/<k>@<start>"``; sequence
================  ================  ==================================================
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path
from molgen.io.chains import ChainRecord, clean_chains, read_chains
from molgen.protein.geometry import frames_from_backbone

__all__ = [
    "ChainDataset",
    "cache_chains",
    "chain_source_files",
    "default_cache_dir",
    "expand_files",
    "training_chain_files",
]

log = logging.getLogger(__name__)

_CACHE_VERSION = 2  # 2: the held-out filter (local-alignment identity)

FileSpec = Sequence[str | os.PathLike[str]] | Mapping[str, Sequence[str | os.PathLike[str]] | str]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/molgen/chains`` (``~/.cache/molgen/chains``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "molgen" / "chains"


def chain_source_files(data_root: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The shared data's chain sources: ``posebusters``, ``crossdocked`` and ``ts50``."""
    root = Path(data_root)
    return {
        "posebusters": sorted(root.glob("posebusters_308/*.pdb.gz")),
        "crossdocked": sorted(root.glob("crossdocked_test/*/*_rec.pdb")),
        "fep": sorted(root.glob("fep_benchmark/*/*_protein.pdb.gz")),
        "ts50": sorted(root.glob("proteins/ts50.json")),
    }


def training_chain_files(data_root: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The training pool: PoseBusters 308 chains, CrossDocked receptors and FEP-benchmark
    proteins (TS50 held out)."""
    files = chain_source_files(data_root)
    return {k: files[k] for k in ("posebusters", "crossdocked", "fep")}


def expand_files(files: FileSpec) -> dict[str, list[Path]]:
    """``{source: [paths]}`` from paths / glob patterns (a list: each entry is its own source)
    or a mapping ``{source: pattern or list}``. Raises if a source matches no file."""
    items = files.items() if isinstance(files, Mapping) else [(str(f), [f]) for f in files]
    out: dict[str, list[Path]] = {}
    for source, entries in items:
        entries = [entries] if isinstance(entries, (str, os.PathLike)) else entries
        paths: list[Path] = []
        for entry in entries:
            text = str(entry)
            paths += [Path(p) for p in sorted(glob.glob(text))] if glob.has_magic(text) else [Path(text)]
        if not paths:
            raise MolgenInputError(f"chain files: source {source!r} matches no file")
        out[source] = paths
    return out


def _fingerprint(path: Path) -> list[object]:
    if not path.is_file():
        raise MolgenInputError(f"{path}: file not found")
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _cache_key(sources: dict[str, list[Path]], settings: dict[str, object]) -> str:
    blob = {
        "version": _CACHE_VERSION,
        "sources": {k: [_fingerprint(p) for p in v] for k, v in sorted(sources.items())},
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _process(sources: dict[str, list[Path]], settings: dict[str, object],
             held_out: Sequence[str] = ()) -> dict[str, object]:
    from molgen.protein.sequence import max_identity

    segments: list[ChainRecord] = []
    segment_source: list[str] = []
    stats: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for source, paths in sources.items():
        s = stats.setdefault(source, dict.fromkeys(("files", "chains", "residues", "segments",
                                                    "segment_residues", "duplicates", "held_out_similar"), 0))
        for path in paths:
            records = read_chains(path)
            s["files"] += 1
            s["chains"] += len(records)
            s["residues"] += sum(len(r) for r in records)
            for seg in clean_chains(records, min_length=settings["min_length"],
                                    max_length=settings["max_length"],
                                    max_peptide_bond=settings["max_peptide_bond"]):  # fmt: skip
                if settings["dedupe"] and seg.seq in seen:
                    s["duplicates"] += 1
                    continue
                seen.add(seg.seq)
                if held_out and max_identity(seg.seq, held_out) >= settings["held_out_identity"]:
                    s["held_out_similar"] += 1
                    continue
                segments.append(seg)
                segment_source.append(source)
                s["segments"] += 1
                s["segment_residues"] += len(seg)
    if not segments:
        raise MolgenInputError(f"chain files {sorted(sources)}: no segment passes the filters {settings}")
    lengths = torch.tensor([len(s) for s in segments], dtype=torch.long)
    return {
        "backbone": torch.from_numpy(np.concatenate([s.backbone for s in segments])),
        "offsets": torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]),
        "names": [s.name for s in segments],
        "seqs": [s.seq for s in segments],
        "chain_ids": [s.chain_id for s in segments],
        "res_ids": [",".join(s.res_ids.tolist()) for s in segments],
        "sources": segment_source,
        "stats": json.dumps(stats),
        "settings": json.dumps(settings),
    }


def cache_chains(
    files: FileSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    min_length: int = 40,
    max_length: int | None = None,
    max_peptide_bond: float = 2.0,
    dedupe: bool = False,
    held_out: FileSpec | None = None,
    held_out_identity: float = 0.4,
) -> Path:
    """Parse and filter ``files`` into the cache unless it is there already; return its path.
    Segments ``held_out_identity`` or more identical to a chain of ``held_out`` are dropped."""
    sources = expand_files(files)
    if isinstance(held_out, (str, os.PathLike)):
        held_out = [held_out]
    held = [p for paths in expand_files(held_out).values() for p in paths] if held_out else []
    settings = {"min_length": min_length, "max_length": max_length, "max_peptide_bond": max_peptide_bond,
                "dedupe": dedupe, "held_out": [_fingerprint(p) for p in held],
                "held_out_identity": float(held_out_identity)}  # fmt: skip
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"chains_{_cache_key(sources, settings)}.pt"
    if path.is_file():
        return path
    log.info("processing %d chain files into %s", sum(map(len, sources.values())), path)
    held_seqs = [r.seq for p in held for r in read_chains(p)]
    blob = _process(sources, settings, held_seqs)
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return path


class ChainDataset(torch.utils.data.Dataset):
    """Backbone segments from protein chain files (see module docstring).

    Args:
        files: paths / glob patterns, or ``{source: patterns}`` (sources name the count rows of
            :meth:`statistics`).
        cache_dir: where the processed file goes (default :func:`default_cache_dir`).
        min_length, max_length, max_peptide_bond, dedupe, held_out, held_out_identity: segment
            filters (:func:`cache_chains`).
        crop_length: longest item; an int, an inclusive ``(min, max)`` range drawn per access,
            or None (no cropping). Segments shorter than the drawn length stay whole.
        seed: seed of the crop draws.
        center: subtract the CA centroid from the coordinates.
        with_frames: add ``rotmats``.
        transform: optional callable applied to each ``Data``.
    """

    def __init__(
        self,
        files: FileSpec,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        min_length: int = 40,
        max_length: int | None = None,
        max_peptide_bond: float = 2.0,
        dedupe: bool = False,
        held_out: FileSpec | None = None,
        held_out_identity: float = 0.4,
        crop_length: int | tuple[int, int] | Sequence[int] | None = 256,
        seed: int = 0,
        center: bool = True,
        with_frames: bool = True,
        transform: Callable[[Data], Data] | None = None,
    ) -> None:
        if crop_length is not None and not isinstance(crop_length, int):
            crop_length = tuple(int(c) for c in crop_length)
            if len(crop_length) != 2 or not 0 < crop_length[0] <= crop_length[1]:
                raise MolgenInputError(f"crop_length={crop_length}: expected an int or (min, max)")
        elif isinstance(crop_length, int) and crop_length <= 0:
            raise MolgenInputError(f"crop_length={crop_length}: must be positive")
        self.cache_path = cache_chains(
            files,
            cache_dir=cache_dir,
            min_length=min_length,
            max_length=max_length,
            max_peptide_bond=max_peptide_bond,
            dedupe=dedupe,
            held_out=held_out,
            held_out_identity=held_out_identity,
        )
        try:
            blob = torch.load(self.cache_path, weights_only=True)
        except Exception as exc:
            raise MolgenInputError(f"{self.cache_path}: unreadable chain cache ({exc}); delete it") from exc
        self._backbone: torch.Tensor = blob["backbone"]
        self._offsets: torch.Tensor = blob["offsets"]
        self.names: list[str] = blob["names"]
        self.seqs: list[str] = blob["seqs"]
        self.sources: list[str] = blob["sources"]
        self._chain_ids: list[str] = blob["chain_ids"]
        self._res_ids: list[str] = blob["res_ids"]
        self._stats: dict[str, dict[str, int]] = json.loads(blob["stats"])
        self.crop_length = crop_length
        self.seed = seed
        self.epoch = 0
        self.center = center
        self.with_frames = with_frames
        self.transform = transform

    def __len__(self) -> int:
        return len(self.names)

    def set_epoch(self, epoch: int) -> None:
        """Change the crop draws (call at each epoch start for new crops)."""
        self.epoch = int(epoch)

    @property
    def segment_lengths(self) -> np.ndarray:
        """``int64 [len(self)]`` uncropped segment lengths."""
        return (self._offsets[1:] - self._offsets[:-1]).numpy()

    @property
    def lengths(self) -> np.ndarray:
        """``int64 [len(self)]`` upper bounds of item lengths after cropping (for batching)."""
        if self.crop_length is None:
            return self.segment_lengths
        hi = self.crop_length if isinstance(self.crop_length, int) else self.crop_length[1]
        return np.minimum(self.segment_lengths, hi)

    def record(self, index: int) -> ChainRecord:
        """The uncropped segment ``index`` as a :class:`ChainRecord` (original numbering)."""
        lo, hi = int(self._offsets[index]), int(self._offsets[index + 1])
        return ChainRecord(
            self.names[index],
            self.seqs[index],
            self._backbone[lo:hi].numpy(),
            np.array(self._res_ids[index].split(",")),
            self._chain_ids[index],
        )

    def _crop(self, index: int, length: int) -> tuple[int, int]:
        """``(start, size)`` of the crop window of item ``index`` for the current epoch."""
        if self.crop_length is None:
            return 0, length
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if isinstance(self.crop_length, int):
            target = self.crop_length
        else:
            target = int(rng.integers(self.crop_length[0], self.crop_length[1], endpoint=True))
        if length <= target:
            return 0, length
        return int(rng.integers(0, length - target + 1)), target

    def __getitem__(self, index: int) -> Data:
        lo, hi = int(self._offsets[index]), int(self._offsets[index + 1])
        start, size = self._crop(index, hi - lo)
        backbone = self._backbone[lo + start : lo + start + size].clone()
        if self.center:
            backbone = backbone - backbone[:, 1].mean(0)
        data = Data(
            backbone=backbone,
            pos=backbone[:, 1].clone(),
            residue_index=torch.arange(size, dtype=torch.long),
            name=f"{self.names[index]}@{start}",
            seq=self.seqs[index][start : start + size],
            num_nodes=size,
        )
        if self.with_frames:
            data.rotmats = frames_from_backbone(backbone)[0]
        return self.transform(data) if self.transform is not None else data

    def statistics(self) -> dict[str, dict[str, int]]:
        """Per source: ``files``, ``chains`` and ``residues`` read, ``segments`` and
        ``segment_residues`` kept after filtering, ``duplicates`` dropped."""
        return {k: dict(v) for k, v in self._stats.items()}

"""Protein-ligand complexes from disk, featurized once and cached.

Two layouts:

- ``crossdocked``: ``root/<target>/<name>.sdf`` with ``<name>_pocket10.pdb`` beside it (and the
  receptor ``<pdb>_<chain>_rec.pdb``); an index file (``ligand_filenames.txt``) lists the SD files
  relative to ``root`` (without one, every ``root/*/*.sdf``). The ligand is the first molecule of
  the SD file. ``pocket_source="pocket10"`` uses the supplied pocket file as is (CrossDocked cut
  it with residue centres of mass within 10 A, so it is smaller than molgen's own cut);
  ``"receptor"`` cuts the receptor with molgen's rule (whole residues with any atom within
  ``pocket_cutoff`` of a ligand atom), the same rule as PoseBusters and ``molgen sample``.
  Split group: the target folder.
- ``posebusters``: ``root/<pdbid>_<CCD>.pdb[.gz]`` (or ``.cif``), protein plus the ligand as
  HETATM records named by the CCD code. The ligand is the first copy of that group in the file
  (altlocs resolved, hydrogens dropped); the pocket is cut with ``pocket_cutoff`` around it.
  Only elements and coordinates are read: PDB records carry no bond orders, so ``smiles`` is
  ``""`` (bond orders would come from the Chemical Component Dictionary, not used here).
  Split group: the PDB id.

Featurized graphs are cached with ``torch.save`` as a list of plain dicts of tensors under
``cache_dir``, in a file keyed by a hash of the source file list (relative paths and sizes) and
the featurization settings; ``cache_dir=None`` disables caching. A complex that fails with a
:class:`~molgen.errors.MolgenInputError` (element outside the vocabulary, empty pocket...) is
skipped with a logged warning, counted in :attr:`ComplexDataset.skipped` and the summary log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from molgen.data.featurize import (
    ComplexData,
    complex_from_dict,
    complex_to_dict,
    make_complex,
    pocket_feature_dim,
)
from molgen.data.vocab import ElementVocab
from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path
from molgen.io.pocket import DEFAULT_POCKET_CUTOFF, select_pocket
from molgen.io.sdf import ligand_record, read_ligands
from molgen.io.structure import read_protein, read_structure_records

__all__ = [
    "CACHE_VERSION",
    "LAYOUTS",
    "ComplexDataset",
    "ComplexSource",
    "crossdocked_sources",
    "load_complex",
    "posebusters_sources",
]

log = logging.getLogger(__name__)

#: Bump when the featurization changes, so old caches are not reused.
CACHE_VERSION = 1
LAYOUTS: tuple[str, ...] = ("crossdocked", "posebusters")
_STRUCTURE_NAMES = (".pdb", ".pdb.gz", ".ent", ".ent.gz", ".cif", ".cif.gz", ".mmcif", ".mmcif.gz")


@dataclass(frozen=True)
class ComplexSource:
    """Where one complex lives on disk.

    Attributes:
        name: the complex id (``"<target>/<sdf stem>"`` or ``"<pdbid>_<CCD>"``).
        group: the split key (CrossDocked target folder, PoseBusters PDB id).
        ligand: SD file, or the structure file holding the ligand as HETATM.
        pocket: pocket or receptor structure file.
        ligand_res_name: the ligand's residue name (CCD code) for the HETATM layout, else None.
        cut_pocket: cut the pocket from ``pocket`` around the ligand (False: use it whole).
    """

    name: str
    group: str
    ligand: Path
    pocket: Path
    ligand_res_name: str | None = None
    cut_pocket: bool = True


def crossdocked_sources(
    root: str | os.PathLike[str],
    index_file: str | os.PathLike[str] | None = "ligand_filenames.txt",
    *,
    pocket_source: str = "pocket10",
) -> list[ComplexSource]:
    """Complexes of a CrossDocked-layout folder, in index-file order (or sorted without one).

    Raises:
        MolgenInputError: missing root, unknown ``pocket_source``, no SD files.
    """
    root = Path(root)
    if not root.is_dir():
        raise MolgenInputError(f"{root}: dataset folder not found")
    if pocket_source not in ("pocket10", "receptor"):
        raise MolgenInputError(f"pocket_source must be 'pocket10' or 'receptor'; got {pocket_source!r}")
    index = root / index_file if index_file is not None else None
    if index is not None and index.is_file():
        rel = [line.strip() for line in index.read_text().splitlines() if line.strip()]
    elif index is not None and index_file != "ligand_filenames.txt":
        raise MolgenInputError(f"{index}: index file not found")
    else:
        rel = sorted(str(p.relative_to(root)) for p in root.glob("*/*.sdf"))
    if not rel:
        raise MolgenInputError(f"{root}: no ligand SD files found (expected <target>/<name>.sdf)")
    sources = []
    for item in rel:
        sdf = root / item
        stem = sdf.name[: -len(".sdf")] if sdf.name.endswith(".sdf") else sdf.stem
        if pocket_source == "pocket10":
            pocket, cut = sdf.with_name(f"{stem}_pocket10.pdb"), False
        else:
            pocket, cut = sdf.with_name(f"{stem.split('_rec_')[0]}_rec.pdb"), True
        target = sdf.parent.name
        sources.append(ComplexSource(f"{target}/{stem}", target, sdf, pocket, None, cut))
    return sources


def posebusters_sources(root: str | os.PathLike[str], names_file: str | None = None) -> list[ComplexSource]:
    """Complexes of a folder of ``<pdbid>_<CCD>.pdb[.gz]`` files, sorted by name.

    ``names_file`` (relative to ``root``, e.g. ``monomer_subset.txt``) restricts to the files it
    lists (one per line, with or without ``.gz``).
    """
    root = Path(root)
    if not root.is_dir():
        raise MolgenInputError(f"{root}: dataset folder not found")
    files = sorted(p for p in root.iterdir() if p.name.lower().endswith(_STRUCTURE_NAMES) and "_" in p.name)
    if names_file is not None:
        listed = root / names_file
        if not listed.is_file():
            raise MolgenInputError(f"{listed}: names file not found")
        lines = [line.strip() for line in listed.read_text().splitlines()]
        wanted = {line.removesuffix(".gz") for line in lines if line}
        files = [p for p in files if p.name.removesuffix(".gz") in wanted]
    if not files:
        raise MolgenInputError(f"{root}: no <pdbid>_<CCD>.pdb(.gz) structure files found")
    sources = []
    for path in files:
        stem = path.name.split(".")[0]
        pdb_id, _, ccd = stem.partition("_")
        sources.append(ComplexSource(stem, pdb_id.lower(), path, path, ccd, True))
    return sources


def load_complex(
    source: ComplexSource,
    *,
    vocab: ElementVocab,
    pocket_mode: str = "full",
    pocket_cutoff: float = DEFAULT_POCKET_CUTOFF,
) -> ComplexData:
    """Parse and featurize one complex (receptor frame, not centred).

    Raises:
        MolgenInputError: any parse / featurization problem, naming the file.
    """
    if source.ligand_res_name is not None:
        protein, groups = read_structure_records(source.ligand, exclude_res_names=(source.ligand_res_name,))
        copies = [g for g in groups if g.name.split(" ")[0] == source.ligand_res_name]
        if not copies:
            raise MolgenInputError(f"{source.ligand}: no HETATM group named {source.ligand_res_name!r}")
        if protein.n_atoms == 0:
            raise MolgenInputError(f"{source.ligand}: no protein atoms found")
        ligand = copies[0]
    else:
        ligand = ligand_record(read_ligands(source.ligand)[0], path=str(source.ligand))
        protein = read_protein(source.pocket)
    pocket = protein
    if source.cut_pocket:
        pocket = select_pocket(protein, ref_ligand_pos=ligand.pos, cutoff=pocket_cutoff)
    return make_complex(ligand, pocket, vocab=vocab, pocket_mode=pocket_mode, name=source.name)


def _cache_key(sources: Sequence[ComplexSource], root: Path, settings: dict) -> str:
    files = []
    for s in sources:
        for p in dict.fromkeys((s.ligand, s.pocket)):
            size = p.stat().st_size if p.exists() else -1
            files.append([os.path.relpath(p, root), size])
    blob = json.dumps({"version": CACHE_VERSION, "settings": settings, "files": files,
                       "sources": [[s.name, s.group, s.ligand_res_name, s.cut_pocket] for s in sources]},
                      sort_keys=True)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ComplexDataset(Dataset):
    """Featurized ligand-pocket complexes of one folder (layouts in the module docstring).

    Args:
        root: the dataset folder.
        layout: ``"crossdocked"`` or ``"posebusters"``.
        index_file: CrossDocked index (relative to root); PoseBusters: optional names file
            (e.g. ``monomer_subset.txt``).
        vocab: ligand element vocabulary (an :class:`ElementVocab` or a list of symbols).
        pocket_mode: ``"full"`` (atoms) or ``"ca"`` (residues).
        pocket_cutoff: Angstrom, for pockets cut around the ligand.
        pocket_source: CrossDocked only: ``"pocket10"`` or ``"receptor"``.
        cache_dir: folder for the processed-graph cache; ``None`` disables caching.
        transform: callable applied to each graph on access (e.g. ``CenterOnPocket()``).
        limit: keep only the first ``limit`` complexes (after sorting / index order).
        skip_errors: skip (and count) complexes that raise ``MolgenInputError``; False re-raises.

    Attributes:
        names, groups: per item; ``skipped``: ``(name, reason)`` per skipped complex;
        ``cache_path``: the cache file (or None); ``from_cache``: whether it was loaded from it.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        layout: str = "crossdocked",
        *,
        index_file: str | None = None,
        vocab: ElementVocab | Sequence[str] | None = None,
        pocket_mode: str = "full",
        pocket_cutoff: float = DEFAULT_POCKET_CUTOFF,
        pocket_source: str = "pocket10",
        cache_dir: str | os.PathLike[str] | None = None,
        transform: Callable[[ComplexData], ComplexData] | None = None,
        limit: int | None = None,
        skip_errors: bool = True,
    ) -> None:
        if layout not in LAYOUTS:
            raise MolgenInputError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
        self.root = Path(root)
        self.layout = layout
        if not isinstance(vocab, ElementVocab):
            vocab = ElementVocab(tuple(vocab)) if vocab is not None else ElementVocab()
        self.vocab = vocab
        pocket_feature_dim(pocket_mode)  # validates the mode before any file is read
        self.pocket_mode = pocket_mode
        self.pocket_cutoff = float(pocket_cutoff)
        self.transform = transform
        if layout == "crossdocked":
            index = index_file or "ligand_filenames.txt"
            sources = crossdocked_sources(self.root, index, pocket_source=pocket_source)
        else:
            sources = posebusters_sources(self.root, index_file)
        self.sources = sources[:limit] if limit is not None else sources
        settings = {"layout": layout, "elements": list(self.vocab.elements), "pocket_mode": pocket_mode,
                    "pocket_cutoff": self.pocket_cutoff, "pocket_source": pocket_source}  # fmt: skip
        self.cache_path = None
        if cache_dir is not None:
            key = _cache_key(self.sources, self.root, settings)
            self.cache_path = Path(cache_dir) / f"{layout}-{self.root.name}-{key}.pt"
        state = self._load_cache()
        self.from_cache = state is not None
        if state is None:
            state = self._process(skip_errors)
            if self.cache_path is not None:
                with atomic_path(self.cache_path) as tmp:
                    torch.save(state, tmp)
        self._items: list[dict] = state["items"]
        self.groups: list[str] = list(state["groups"])
        self.skipped: list[tuple[str, str]] = [tuple(s) for s in state["skipped"]]
        self.names: list[str] = [item["name"] for item in self._items]
        if not self._items:
            raise MolgenInputError(f"{self.root}: no usable complexes ({len(self.skipped)} skipped)")
        self._log_summary()

    def _load_cache(self) -> dict | None:
        if self.cache_path is None or not self.cache_path.is_file():
            return None
        try:
            state = torch.load(self.cache_path, weights_only=True)
        except Exception as exc:  # truncated / foreign file: rebuild it
            log.warning("ignoring unreadable dataset cache %s (%s); rebuilding", self.cache_path, exc)
            return None
        if not isinstance(state, dict) or state.get("version") != CACHE_VERSION:
            return None
        return state

    def _process(self, skip_errors: bool) -> dict:
        items, groups, skipped = [], [], []
        log.info("featurizing %d complexes of %s (%s layout)", len(self.sources), self.root, self.layout)
        for count, source in enumerate(self.sources, start=1):
            if count % 50 == 0:
                log.info("featurized %d / %d complexes", count, len(self.sources))
            try:
                data = load_complex(source, vocab=self.vocab, pocket_mode=self.pocket_mode,
                                    pocket_cutoff=self.pocket_cutoff)  # fmt: skip
            except MolgenInputError as exc:
                if not skip_errors:
                    raise
                log.warning("skipping complex %s: %s", source.name, exc)
                skipped.append([source.name, str(exc)])
                continue
            items.append(complex_to_dict(data))
            groups.append(source.group)
        return {"version": CACHE_VERSION, "items": items, "groups": groups, "skipped": skipped}

    def _log_summary(self) -> None:
        where = f"cache {self.cache_path}" if self.from_cache else "source files"
        msg = f"{self.layout} dataset {self.root}: {len(self)} complexes from {where}"
        if self.skipped:
            reasons = Counter(_reason_kind(r) for _, r in self.skipped)
            detail = ", ".join(f"{k}: {v}" for k, v in reasons.most_common())
            log.warning("%s; %d skipped (%s)", msg, len(self.skipped), detail)
        else:
            log.info(msg)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> ComplexData:
        data = complex_from_dict(dict(self._items[index]))
        return self.transform(data) if self.transform is not None else data

    def size_pairs(self, indices: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """``(n_pocket_nodes, n_ligand_atoms)`` per complex (pocket nodes: atoms or residues)."""
        chosen = range(len(self)) if indices is None else indices
        items = [self._items[i] for i in chosen]
        return [(int(it["pocket_pos"].size(0)), int(it["ligand_pos"].size(0))) for it in items]

    def smiles(self, indices: Sequence[int] | None = None) -> list[str]:
        """Reference ligand SMILES where known (CrossDocked), skipping empty ones."""
        chosen = range(len(self)) if indices is None else indices
        return [s for i in chosen if (s := str(self._items[i].get("smiles", "")))]


def _reason_kind(reason: str) -> str:
    """Short class of a skip reason, for the summary line."""
    text = reason.split(": ", 1)[-1]
    if "not in the ligand element vocabulary" in text:
        return "element not in vocabulary"
    return text.split(";")[0].split("(")[0].strip()[:60]

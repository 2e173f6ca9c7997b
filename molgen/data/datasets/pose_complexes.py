"""Protein-ligand poses with the ligands' bonds: the training set of the bond-aware pocket model.

The poses are the kept rows of a leakage manifest (``molgen data leakage``,
:func:`molgen.data.leakage.combined_complexes`): PoseBusters complexes (ligand bond orders from the
Chemical Component Dictionary, :mod:`molgen.io.ccd`) and FEP-benchmark poses (SD records), whose
proteins share < 30 % sequence identity with every CrossDocked test receptor and which pass
PoseBusters' ``dock`` checks. Each pose becomes a :class:`BondComplexData`: the pocket (residues
within ``pocket_cutoff`` of the ligand, featurized as for every pocket model) and the ligand's heavy
atoms with formal charges and Kekulé bonds (:func:`molgen.chem.bond_graph.graph_from_mol`).

A pose whose ligand has an element outside the vocabulary, a charge outside -1..+1, or that does not
parse is skipped with its reason (counted in :attr:`PoseComplexDataset.skipped` and the summary log
line). Featurized poses are cached under ``cache_dir`` keyed by the manifest's kept poses, their
files' sizes and the settings. Split group: the complex (PDB id or FEP system).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from molgen.chem.bond_graph import CHARGES, graph_from_mol
from molgen.data.featurize import ComplexData, featurize_pocket, pocket_feature_dim
from molgen.data.leakage import Pose, combined_complexes, load_pose
from molgen.data.vocab import ElementVocab
from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path
from molgen.io.pocket import DEFAULT_POCKET_CUTOFF, select_pocket
from molgen.io.structure import read_protein

__all__ = ["BondComplexData", "PoseComplexDataset", "ligand_bond_tensors"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1


class BondComplexData(ComplexData):
    """A :class:`~molgen.data.featurize.ComplexData` whose ligand also has ``ligand_charges`` [N]
    (index into :data:`~molgen.chem.bond_graph.CHARGES`), ``ligand_bond_index`` [2, K] (ligand atom
    indices) and ``ligand_bond_types`` [K] (index into ``BOND_TYPES``, > 0). Batching offsets the
    bond index by the ligand atoms only (``num_nodes`` counts the pocket too)."""

    def __inc__(self, key, value, *args, **kwargs):
        if key == "ligand_bond_index":
            return self.ligand_pos.size(0)
        return super().__inc__(key, value, *args, **kwargs)


def ligand_bond_tensors(mol, vocab: ElementVocab, *, source: str = "") -> dict[str, torch.Tensor]:
    """The ligand fields of a :class:`BondComplexData` from an RDKit molecule with a conformer
    (hydrogens removed, Kekulé bonds).

    Raises:
        MolgenInputError: an element outside ``vocab`` or a formal charge outside -1..+1.
    """
    from rdkit import Chem

    graph = graph_from_mol(Chem.RemoveHs(mol))
    bad = sorted({int(q) for q in graph.charges.tolist() if int(q) not in CHARGES})
    if bad:
        raise MolgenInputError(f"{source}: formal charge(s) {bad} outside {list(CHARGES)}")
    types = vocab.encode(graph.elements, source=source)
    return {
        "ligand_pos": torch.as_tensor(graph.pos, dtype=torch.float32),
        "ligand_types": torch.as_tensor(types, dtype=torch.long),
        "ligand_charges": torch.as_tensor(graph.charges + 1, dtype=torch.long),
        "ligand_bond_index": torch.as_tensor(graph.bonds[:, :2].T.copy(), dtype=torch.long).reshape(2, -1),
        "ligand_bond_types": torch.as_tensor(graph.bonds[:, 2], dtype=torch.long),
    }


def _protein(pose: Pose):
    if pose.source == "posebusters":  # the ligand's own HETATM group is not protein
        return read_protein(pose.protein, exclude_res_names=(pose.ligand_ref,))
    return read_protein(pose.protein)


class PoseComplexDataset(Dataset):
    """The kept poses of a leakage manifest with their ligands' bonds (see the module docstring).

    Args:
        manifest: the manifest CSV (``docs/results/leakage_manifest.csv``).
        root: the folder its relative paths start from (the shared data folder).
        vocab: ligand element vocabulary; pocket_mode, pocket_cutoff: the pocket featurization.
        cache_dir: folder of the featurized cache (None: no cache).
        transform: applied to each graph on access (e.g. ``CenterOnPocket()``).
        limit: keep only the first ``limit`` poses (quick runs, tests).
    """

    def __init__(self, manifest: str | os.PathLike[str], root: str | os.PathLike[str], *,
                 vocab: ElementVocab | Sequence[str], pocket_mode: str = "full",
                 pocket_cutoff: float = DEFAULT_POCKET_CUTOFF, cache_dir: str | os.PathLike[str] | None = None,
                 transform: Callable[[ComplexData], ComplexData] | None = None, limit: int | None = None) -> None:
        self.manifest, self.root = Path(manifest), Path(root)
        self.vocab = vocab if isinstance(vocab, ElementVocab) else ElementVocab(tuple(vocab))
        pocket_feature_dim(pocket_mode)
        self.pocket_mode, self.pocket_cutoff, self.transform = pocket_mode, float(pocket_cutoff), transform
        poses = combined_complexes(self.manifest, self.root)
        self.poses = poses[:limit] if limit is not None else poses
        if not self.poses:
            raise MolgenInputError(f"{self.manifest}: no kept poses")
        self.cache_path = None
        if cache_dir is not None:
            self.cache_path = Path(cache_dir) / f"poses-{self._cache_key()}.pt"
        state = None
        if self.cache_path is not None and self.cache_path.is_file():
            state = torch.load(self.cache_path, weights_only=True)
            if state.get("version") != CACHE_VERSION:
                state = None
        self.from_cache = state is not None
        if state is None:
            state = self._process()
            if self.cache_path is not None:
                with atomic_path(self.cache_path) as tmp:
                    torch.save(state, tmp)
        self._items, self.groups = state["items"], list(state["groups"])
        self.skipped = [tuple(s) for s in state["skipped"]]
        self.names = [it["name"] for it in self._items]
        if not self._items:
            raise MolgenInputError(f"{self.manifest}: no usable poses ({len(self.skipped)} skipped)")
        msg = f"{len(self)} poses with bonds from {'cache ' + str(self.cache_path) if self.from_cache else self.manifest}"
        if self.skipped:
            reasons = Counter(r.split(": ", 1)[-1][:60] for _, r in self.skipped)
            log.warning("%s; %d skipped (%s)", msg, len(self.skipped),
                        ", ".join(f"{k}: {v}" for k, v in reasons.most_common(5)))
        else:
            log.info(msg)

    def _cache_key(self) -> str:
        files = sorted({str(p) for pose in self.poses for p in (pose.protein, pose.ligand)})
        sizes = [[os.path.relpath(f, self.root), Path(f).stat().st_size if Path(f).exists() else -1] for f in files]
        blob = json.dumps({"version": CACHE_VERSION, "poses": [[p.complex, p.pose, p.ligand_ref] for p in self.poses],
                           "files": sizes, "elements": list(self.vocab.elements), "mode": self.pocket_mode,
                           "cutoff": self.pocket_cutoff}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def _process(self) -> dict:
        from rdkit import Chem

        by_protein: dict[Path, list[Pose]] = defaultdict(list)
        for pose in self.poses:
            by_protein[pose.protein].append(pose)
        items, groups, skipped = [], [], []
        log.info("featurizing %d poses in %d proteins", len(self.poses), len(by_protein))
        for protein_path, poses in by_protein.items():
            try:
                protein = _protein(poses[0])
            except MolgenInputError as exc:
                skipped += [[f"{p.complex}:{p.pose}", str(exc)] for p in poses]
                continue
            for pose in poses:
                name = f"{pose.complex}:{pose.pose}"
                try:
                    mol = load_pose(pose)
                    ligand = ligand_bond_tensors(mol, self.vocab, source=f"{pose.ligand} ({pose.pose})")
                    smiles = Chem.MolToSmiles(Chem.RemoveHs(mol))
                    pocket = select_pocket(protein, ref_ligand_pos=ligand["ligand_pos"].numpy().astype(np.float64),
                                           cutoff=self.pocket_cutoff)
                    feats = featurize_pocket(pocket, self.pocket_mode)
                except (MolgenInputError, ValueError) as exc:
                    log.warning("skipping pose %s: %s", name, exc)
                    skipped.append([name, str(exc)])
                    continue
                n = ligand["ligand_pos"].shape[0] + feats["pocket_pos"].shape[0]
                data = BondComplexData(**ligand, **feats, name=name, smiles=smiles, num_nodes=n)
                items.append(data.to_dict())
                groups.append(pose.complex)
        return {"version": CACHE_VERSION, "items": items, "groups": groups, "skipped": skipped}

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> BondComplexData:
        data = BondComplexData(**dict(self._items[index]))
        return self.transform(data) if self.transform is not None else data

    def size_pairs(self, indices: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """``(n_pocket_nodes, n_ligand_atoms)`` per pose."""
        chosen = range(len(self)) if indices is None else indices
        return [(int(self._items[i]["pocket_pos"].size(0)), int(self._items[i]["ligand_pos"].size(0))) for i in chosen]

    def smiles(self, indices: Sequence[int] | None = None) -> list[str]:
        """The ligands' SMILES (hydrogens implicit)."""
        chosen = range(len(self)) if indices is None else indices
        return [str(self._items[i]["smiles"]) for i in chosen]

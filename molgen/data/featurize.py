"""Records -> tensors: ligand atoms, pocket nodes and the :class:`ComplexData` graph.

Pure functions of their inputs. Ligand and pocket stay apart in one graph with prefixed fields,
batched with ``follow_batch=["ligand_pos", "pocket_pos"]`` (see :data:`FOLLOW_BATCH`):

==================  ================  =====================================================
field               shape / type      meaning
==================  ================  =====================================================
``ligand_pos``      ``[N, 3]`` float  ligand heavy atoms, Angstrom
``ligand_types``    ``[N]`` long      index into the ligand :class:`ElementVocab`
``pocket_pos``      ``[M, 3]`` float  pocket atoms (``full``) or residue CA atoms (``ca``)
``pocket_feat``     ``[M, F]`` float  see :func:`featurize_pocket`, ``F = pocket_feature_dim``
``name``            ``str``           complex id (a list of names once batched)
``smiles``          ``str``           reference ligand SMILES, ``""`` when bonds are unknown
``center``          ``[1, 3]`` float  offset removed by ``CenterOnPocket`` (after the transform)
==================  ================  =====================================================

``num_nodes`` is set to ``N + M`` so PyG never has to guess it; use ``ligand_pos_batch`` /
``pocket_pos_batch`` (not ``batch``) to index graphs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch_geometric.data import Data

from molgen.data.vocab import (
    AMINO_ACIDS,
    POCKET_ELEMENTS,
    ElementVocab,
    pocket_element_index,
    residue_type_index,
)
from molgen.errors import MolgenInputError
from molgen.io.records import LigandRecord, ProteinRecord

__all__ = [
    "FOLLOW_BATCH",
    "POCKET_MODES",
    "ComplexData",
    "LigandTensors",
    "complex_from_dict",
    "complex_to_dict",
    "featurize_ligand",
    "featurize_pocket",
    "make_complex",
    "make_pocket_complex",
    "pocket_feature_dim",
    "unbatch_ligands",
]

#: Pass to PyG's ``DataLoader`` / ``Batch.from_data_list`` to get per-node graph indices.
FOLLOW_BATCH: list[str] = ["ligand_pos", "pocket_pos"]
#: Pocket representations: every heavy atom, or one node per residue at its CA.
POCKET_MODES: tuple[str, ...] = ("full", "ca")


def pocket_feature_dim(mode: str = "full") -> int:
    """Width of ``pocket_feat``: 27 for ``full`` (5 element + 21 residue + 1 backbone), 21 for ``ca``."""
    _check_mode(mode)
    return len(POCKET_ELEMENTS) + len(AMINO_ACIDS) + 1 if mode == "full" else len(AMINO_ACIDS)


def _check_mode(mode: str) -> None:
    if mode not in POCKET_MODES:
        raise MolgenInputError(f"pocket_mode must be one of {', '.join(POCKET_MODES)}; got {mode!r}")


def featurize_ligand(record: LigandRecord, vocab: ElementVocab) -> dict[str, torch.Tensor]:
    """``ligand_pos [N,3] float32`` and ``ligand_types [N] long`` of the heavy atoms of ``record``.

    Hydrogens are dropped (they are implicit in molgen).

    Raises:
        MolgenInputError: no heavy atoms, or an element outside ``vocab`` (names the element,
            the vocabulary and the ligand's file).
    """
    heavy = record.heavy_atoms()
    if heavy.n_atoms == 0:
        raise MolgenInputError(f"{record.source}: ligand has no heavy atoms")
    types = vocab.encode(heavy.element, source=record.source)
    return {
        "ligand_pos": torch.from_numpy(np.ascontiguousarray(heavy.pos, dtype=np.float32)),
        "ligand_types": torch.from_numpy(types),
    }


def _one_hot(index: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(index), n), dtype=np.float32)
    out[np.arange(len(index)), index] = 1.0
    return out


def featurize_pocket(record: ProteinRecord, mode: str = "full") -> dict[str, torch.Tensor]:
    """Pocket nodes and their invariant features.

    - ``full``: one node per heavy atom; features = one-hot element (C, N, O, S, other) +
      one-hot residue type (20 + unknown) + backbone flag (N, CA, C, O) -> 27 columns.
    - ``ca``: one node per residue placed at its CA (at the mean of its atoms when CA is
      missing); features = one-hot residue type -> 21 columns.

    Raises:
        MolgenInputError: unknown ``mode`` or an empty pocket.
    """
    _check_mode(mode)
    if record.n_atoms == 0:
        raise MolgenInputError(f"{record.path or '<pocket>'}: the pocket has no atoms")
    res_types = np.asarray([residue_type_index(r) for r in record.res_name], dtype=np.int64)
    if mode == "full":
        elements = np.asarray([pocket_element_index(e) for e in record.element], dtype=np.int64)
        feat = np.concatenate(
            [
                _one_hot(elements, len(POCKET_ELEMENTS)),
                _one_hot(res_types, len(AMINO_ACIDS)),
                record.is_backbone.astype(np.float32)[:, None],
            ],
            axis=1,
        )
        pos = record.pos
    else:
        res_index = record.residue_index()
        n_res = int(res_index.max()) + 1
        pos = np.zeros((n_res, 3), dtype=np.float64)
        np.add.at(pos, res_index, record.pos)
        pos /= np.bincount(res_index, minlength=n_res)[:, None]
        is_ca = record.atom_name == "CA"
        pos[res_index[is_ca]] = record.pos[is_ca]  # CA where present, centroid otherwise
        first = np.unique(res_index, return_index=True)[1]
        feat = _one_hot(res_types[first], len(AMINO_ACIDS))
    return {
        "pocket_pos": torch.from_numpy(np.ascontiguousarray(pos, dtype=np.float32)),
        "pocket_feat": torch.from_numpy(np.ascontiguousarray(feat, dtype=np.float32)),
    }


class ComplexData(Data):
    """One ligand-pocket complex (fields in the module docstring); batches like any PyG ``Data``."""

    @property
    def num_ligand_atoms(self) -> int:
        """Ligand atoms of this graph (of the whole batch once batched)."""
        return int(self.ligand_pos.size(0))

    @property
    def num_pocket_nodes(self) -> int:
        """Pocket nodes (atoms or residues) of this graph (of the whole batch once batched)."""
        return int(self.pocket_pos.size(0))


def _complex(
    ligand: dict[str, torch.Tensor], pocket: dict[str, torch.Tensor], name: str, smiles: str
) -> ComplexData:
    n = ligand["ligand_pos"].size(0) + pocket["pocket_pos"].size(0)
    return ComplexData(**ligand, **pocket, name=name, smiles=smiles, num_nodes=n)


def make_complex(
    ligand: LigandRecord,
    pocket: ProteinRecord,
    *,
    vocab: ElementVocab | None = None,
    pocket_mode: str = "full",
    name: str | None = None,
) -> ComplexData:
    """Featurize a ligand and its pocket into one :class:`ComplexData` (receptor frame, uncentred).

    ``smiles`` is taken from ``ligand.mol`` when it has one (else ``""``).
    """
    vocab = vocab or ElementVocab()
    smiles = ""
    if ligand.mol is not None:
        from rdkit import Chem

        smiles = Chem.MolToSmiles(ligand.mol)
    return _complex(
        featurize_ligand(ligand, vocab), featurize_pocket(pocket, pocket_mode),
        name if name is not None else ligand.name, smiles,
    )  # fmt: skip


def make_pocket_complex(
    pocket: ProteinRecord, *, pocket_mode: str = "full", n_ligand_atoms: int = 0, name: str = "pocket"
) -> ComplexData:
    """A :class:`ComplexData` for sampling: the pocket and a placeholder ligand.

    The ligand has ``n_ligand_atoms`` atoms at the origin with type 0 (a sampler overwrites both
    with noise); with the default 0 the ligand fields are empty ``[0, 3]`` / ``[0]`` tensors.
    """
    if n_ligand_atoms < 0:
        raise MolgenInputError(f"n_ligand_atoms must be >= 0, got {n_ligand_atoms}")
    ligand = {
        "ligand_pos": torch.zeros(n_ligand_atoms, 3, dtype=torch.float32),
        "ligand_types": torch.zeros(n_ligand_atoms, dtype=torch.long),
    }
    return _complex(ligand, featurize_pocket(pocket, pocket_mode), name, "")


class LigandTensors(NamedTuple):
    """One complex's ligand, split out of a batch by :func:`unbatch_ligands`."""

    pos: torch.Tensor
    types: torch.Tensor
    name: str


def _graph_count(batch: Data) -> int:
    return int(batch.num_graphs) if hasattr(batch, "num_graphs") and batch.num_graphs is not None else 1


def unbatch_ligands(
    batch: Data,
    pos: torch.Tensor | None = None,
    types: torch.Tensor | None = None,
    *,
    to_receptor_frame: bool = False,
) -> list[LigandTensors]:
    """Split the ligands of a batch (or of one ``ComplexData``) into per-complex tensors.

    Args:
        batch: a batch built with ``follow_batch=FOLLOW_BATCH``, or a single graph.
        pos, types: per-ligand-atom tensors to split instead of ``batch.ligand_pos`` /
            ``batch.ligand_types`` (e.g. sampled coordinates); same atom order as the batch.
        to_receptor_frame: add back ``batch.center`` (set by ``CenterOnPocket``) to positions.
    """
    pos = batch.ligand_pos if pos is None else pos
    types = batch.ligand_types if types is None else types
    n_graphs = _graph_count(batch)
    index = getattr(batch, "ligand_pos_batch", None)
    if index is None:
        if n_graphs != 1:
            raise ValueError("batch has no ligand_pos_batch: build it with follow_batch=FOLLOW_BATCH")
        index = torch.zeros(pos.size(0), dtype=torch.long, device=pos.device)
    if to_receptor_frame and getattr(batch, "center", None) is not None:
        pos = pos + batch.center.to(pos).reshape(-1, 3)[index]
    counts = torch.bincount(index, minlength=n_graphs).tolist()
    names = batch.name if isinstance(batch.name, (list, tuple)) else [batch.name]
    return [
        LigandTensors(p, t, str(n))
        for p, t, n in zip(torch.split(pos, counts), torch.split(types, counts), names)
    ]


def complex_to_dict(data: ComplexData) -> dict:
    """Plain ``dict`` of tensors and strings (for ``torch.save`` with ``weights_only`` loading)."""
    return {key: value for key, value in data.to_dict().items()}


def complex_from_dict(mapping: dict) -> ComplexData:
    """Inverse of :func:`complex_to_dict`."""
    return ComplexData(**mapping)

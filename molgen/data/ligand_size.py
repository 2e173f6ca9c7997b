"""How many ligand atoms to generate for a pocket: p(n_ligand | pocket size), as in DiffSBDD.

Fit on ``(n_pocket, n_ligand)`` pairs of a training set (``ComplexDataset.size_pairs()``: pocket
nodes are atoms for ``pocket_mode="full"``, residues for ``"ca"``; measure the sampling pocket
the same way). Pocket sizes are binned at quantiles; each bin keeps the empirical histogram of
ligand sizes seen with pockets of that size. Plain lists inside, so :meth:`LigandSizeModel.to_dict`
goes straight into a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from molgen.errors import MolgenInputError

__all__ = ["LigandSizeModel", "complex_size_pairs", "fit_ligand_size_model"]


@dataclass(frozen=True)
class LigandSizeModel:
    """Histogram of ligand sizes per pocket-size bin.

    Attributes:
        inner_edges: pocket-size bin boundaries (``n_bins - 1`` values); a pocket of size ``n``
            falls in bin ``searchsorted(inner_edges, n, side="right")``, sizes beyond the fitted
            range fall in the first / last bin.
        sizes: the ligand sizes with nonzero probability somewhere (ascending).
        probs: ``[n_bins][len(sizes)]``, each row sums to 1.
        meta: free-form settings to keep with the model (e.g. ``pocket_mode``).
    """

    inner_edges: tuple[float, ...]
    sizes: tuple[int, ...]
    probs: tuple[tuple[float, ...], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.probs) != len(self.inner_edges) + 1:
            raise ValueError("probs needs one row per bin (len(inner_edges) + 1)")
        if any(len(row) != len(self.sizes) for row in self.probs):
            raise ValueError("each probs row needs one value per size")

    @property
    def n_bins(self) -> int:
        """Number of pocket-size bins."""
        return len(self.probs)

    def bin_of(self, n_pocket: int) -> int:
        """The pocket-size bin of ``n_pocket``."""
        return int(np.searchsorted(np.asarray(self.inner_edges), n_pocket, side="right"))

    def distribution(self, n_pocket: int) -> dict[int, float]:
        """``{n_ligand: probability}`` for a pocket of ``n_pocket`` nodes."""
        row = self.probs[self.bin_of(n_pocket)]
        return {s: p for s, p in zip(self.sizes, row) if p > 0}

    def sample(self, n_pocket: int, generator: torch.Generator | None = None, n: int | None = None) -> Any:
        """Draw a ligand size for a pocket of ``n_pocket`` nodes (``n`` draws as a list when given)."""
        probs = torch.tensor(self.probs[self.bin_of(n_pocket)], dtype=torch.float64)
        draws = torch.multinomial(probs, 1 if n is None else n, replacement=True, generator=generator)
        values = [self.sizes[int(i)] for i in draws]
        return values[0] if n is None else values

    def to_dict(self) -> dict[str, Any]:
        """Plain lists / dicts (JSON and checkpoint friendly)."""
        return {"inner_edges": list(self.inner_edges), "sizes": list(self.sizes),
                "probs": [list(r) for r in self.probs], "meta": dict(self.meta)}  # fmt: skip

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> LigandSizeModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            inner_edges=tuple(float(e) for e in state["inner_edges"]),
            sizes=tuple(int(s) for s in state["sizes"]),
            probs=tuple(tuple(float(p) for p in row) for row in state["probs"]),
            meta=dict(state.get("meta", {})),
        )


def fit_ligand_size_model(
    pairs: Iterable[Sequence[int]], n_bins: int = 10, meta: dict[str, Any] | None = None
) -> LigandSizeModel:
    """Fit :class:`LigandSizeModel` on ``(n_pocket, n_ligand)`` pairs.

    Bins hold roughly equal numbers of complexes (quantiles of pocket size; fewer bins when
    pocket sizes repeat or data are few, at least ~5 complexes per bin).

    Raises:
        MolgenInputError: no pairs, or a non-positive ligand size.
    """
    data = np.asarray([tuple(p) for p in pairs], dtype=np.int64).reshape(-1, 2)
    if len(data) == 0:
        raise MolgenInputError("fit_ligand_size_model: no (n_pocket, n_ligand) pairs given")
    if (data[:, 1] <= 0).any():
        raise MolgenInputError("fit_ligand_size_model: ligand sizes must be positive")
    pocket, ligand = data[:, 0], data[:, 1]
    n_bins = max(1, min(int(n_bins), len(data) // 5 or 1))
    quantiles = np.quantile(pocket, np.linspace(0, 1, n_bins + 1)[1:-1])
    inner = np.unique(quantiles)
    bins = np.searchsorted(inner, pocket, side="right")
    sizes = np.unique(ligand)
    overall = np.array([(ligand == s).sum() for s in sizes], dtype=np.float64)
    rows = []
    for b in range(len(inner) + 1):
        counts = np.array([(ligand[bins == b] == s).sum() for s in sizes], dtype=np.float64)
        counts = counts if counts.sum() > 0 else overall  # an empty bin falls back to all data
        rows.append(tuple(float(c) for c in counts / counts.sum()))
    return LigandSizeModel(
        inner_edges=tuple(float(e) for e in inner),
        sizes=tuple(int(s) for s in sizes),
        probs=tuple(rows),
        meta=dict(meta or {}),
    )


def complex_size_pairs(dataset: Iterable[Any]) -> list[tuple[int, int]]:
    """``(n_pocket_nodes, n_ligand_atoms)`` of each graph of a dataset (or ``dataset.size_pairs()``)."""
    if hasattr(dataset, "size_pairs"):
        return list(dataset.size_pairs())
    return [(int(d.pocket_pos.size(0)), int(d.ligand_pos.size(0))) for d in dataset]

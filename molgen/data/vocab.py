"""Vocabularies: ligand element types, pocket element classes, residue types.

No torch here: indices are plain ints / numpy arrays, featurization turns them into tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from molgen.errors import MolgenInputError
from molgen.io.structure import STANDARD_AMINO_ACIDS

__all__ = [
    "AMINO_ACIDS",
    "DEFAULT_LIGAND_ELEMENTS",
    "POCKET_ELEMENTS",
    "ElementVocab",
    "normalize_element",
    "pocket_element_index",
    "residue_type_index",
]

#: Default ligand heavy-atom vocabulary (hydrogens are implicit).
DEFAULT_LIGAND_ELEMENTS: tuple[str, ...] = ("C", "N", "O", "S", "P", "F", "Cl", "Br", "I")
#: Pocket element classes of the full-atom pocket features; anything else is ``"other"``.
POCKET_ELEMENTS: tuple[str, ...] = ("C", "N", "O", "S", "other")
#: Residue classes of pocket features: the 20 standard amino acids, then ``"UNK"`` for the rest.
AMINO_ACIDS: tuple[str, ...] = (*STANDARD_AMINO_ACIDS, "UNK")


def normalize_element(symbol: str) -> str:
    """``"CL"``, ``"cl"``, ``" Cl "`` -> ``"Cl"``."""
    return str(symbol).strip().capitalize()


@dataclass(frozen=True)
class ElementVocab:
    """An ordered element vocabulary: element symbol <-> type index.

    Args:
        elements: symbols in index order (normalised: ``"CL"`` and ``"Cl"`` are the same).
    """

    elements: tuple[str, ...] = DEFAULT_LIGAND_ELEMENTS

    def __post_init__(self) -> None:
        elements = tuple(normalize_element(e) for e in self.elements)
        if not elements:
            raise MolgenInputError("element vocabulary is empty")
        if len(set(elements)) != len(elements):
            raise MolgenInputError(f"element vocabulary has duplicates: {', '.join(elements)}")
        if any(e in ("H", "D") for e in elements):
            raise MolgenInputError("element vocabulary: hydrogens are implicit, do not list H")
        object.__setattr__(self, "elements", elements)

    def __len__(self) -> int:
        return len(self.elements)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and normalize_element(symbol) in self.elements

    def index(self, element: str, *, source: str = "") -> int:
        """Type index of ``element``.

        Raises:
            MolgenInputError: the element is not in the vocabulary (message names both, and
                ``source``, e.g. the file, when given).
        """
        symbol = normalize_element(element)
        try:
            return self.elements.index(symbol)
        except ValueError:
            where = f"{source}: " if source else ""
            raise MolgenInputError(
                f"{where}element {symbol!r} is not in the ligand element vocabulary "
                f"({', '.join(self.elements)})"
            ) from None

    def encode(self, elements: Iterable[str], *, source: str = "") -> np.ndarray:
        """``int64 [N]`` type indices (raises on the first unknown element, see :meth:`index`)."""
        return np.asarray([self.index(e, source=source) for e in elements], dtype=np.int64)

    def decode(self, indices: Sequence[int] | np.ndarray) -> list[str]:
        """Element symbols of type indices."""
        return [self.elements[int(i)] for i in np.asarray(indices).reshape(-1)]


def pocket_element_index(element: str) -> int:
    """Index into :data:`POCKET_ELEMENTS` (``other`` for anything not C, N, O, S)."""
    symbol = normalize_element(element)
    return POCKET_ELEMENTS.index(symbol) if symbol in POCKET_ELEMENTS[:-1] else len(POCKET_ELEMENTS) - 1


def residue_type_index(res_name: str) -> int:
    """Index into :data:`AMINO_ACIDS` (``UNK`` for non-standard residues)."""
    name = str(res_name).strip().upper()
    return AMINO_ACIDS.index(name) if name in STANDARD_AMINO_ACIDS else len(AMINO_ACIDS) - 1

"""Element and residue vocabularies."""

from __future__ import annotations

import numpy as np
import pytest

from molgen.data.vocab import (
    AMINO_ACIDS,
    DEFAULT_LIGAND_ELEMENTS,
    POCKET_ELEMENTS,
    ElementVocab,
    pocket_element_index,
    residue_type_index,
)
from molgen.errors import MolgenInputError


def test_default_vocab() -> None:
    vocab = ElementVocab()
    assert vocab.elements == DEFAULT_LIGAND_ELEMENTS == ("C", "N", "O", "S", "P", "F", "Cl", "Br", "I")
    assert len(vocab) == 9
    assert vocab.index("CL") == vocab.index("Cl") == 6
    assert vocab.encode(["C", "O", "br"]).tolist() == [0, 2, 7]
    assert vocab.encode([]).dtype == np.int64
    assert vocab.decode(np.array([8, 0])) == ["I", "C"]
    assert "cl" in vocab and "B" not in vocab


def test_unknown_element_names_element_vocab_and_source() -> None:
    vocab = ElementVocab(("C", "N", "O"))
    message = r"lig\.sdf: element 'B' is not in the ligand element vocabulary \(C, N, O\)"
    with pytest.raises(MolgenInputError, match=message):
        vocab.encode(["C", "B"], source="lig.sdf")


def test_vocab_validation() -> None:
    assert ElementVocab(["c", "CL"]).elements == ("C", "Cl")  # lists (Hydra) are accepted
    with pytest.raises(MolgenInputError, match="duplicates"):
        ElementVocab(("C", "c"))
    with pytest.raises(MolgenInputError, match="hydrogens are implicit"):
        ElementVocab(("C", "H"))
    with pytest.raises(MolgenInputError, match="empty"):
        ElementVocab(())


def test_pocket_vocabularies() -> None:
    assert POCKET_ELEMENTS == ("C", "N", "O", "S", "other")
    assert [pocket_element_index(e) for e in ("C", "n", "O", "S", "Se", "Zn")] == [0, 1, 2, 3, 4, 4]
    assert len(AMINO_ACIDS) == 21 and AMINO_ACIDS[-1] == "UNK"
    assert residue_type_index("ALA") == 0 and residue_type_index("VAL") == 19
    assert residue_type_index("SEP") == residue_type_index("UNK") == 20

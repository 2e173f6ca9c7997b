"""Molecular properties against known values and TargetDiff's published reference numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from molgen.chem.properties import (
    compute_properties,
    lipinski_count,
    logp,
    normalize_sa,
    qed,
    ring_size_counts,
    sa_score,
)


def test_benzene() -> None:
    benzene = Chem.MolFromSmiles("c1ccccc1")
    assert qed(benzene) == pytest.approx(0.4426, abs=1e-3)
    assert sa_score(benzene) == pytest.approx(1.0, abs=1e-6)
    assert normalize_sa(1.0) == 1.0
    assert logp(benzene) == pytest.approx(1.6866, abs=1e-3)
    assert lipinski_count(benzene) == 5
    assert ring_size_counts(benzene) == {6: 1}


def test_explicit_hydrogens_do_not_change_sa_or_qed() -> None:
    mol = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    with_h = Chem.AddHs(mol)
    assert sa_score(with_h) == pytest.approx(sa_score(mol))
    assert qed(with_h) == pytest.approx(qed(mol))


def test_normalize_sa_is_targetdiffs() -> None:
    assert normalize_sa(10.0) == 0.0
    assert normalize_sa(5.5) == 0.5
    assert normalize_sa(3.2) == round((10 - 3.2) / 9, 2)


def test_lipinski_counts_all_five_rules() -> None:
    # C61 fatty acid: mass 887, logP 23 and 59 rotatable bonds fail; donors and acceptors hold
    assert lipinski_count(Chem.MolFromSmiles("CC" * 30 + "C(=O)O")) == 2
    # C13 polyol: only the mass holds (12 donors, 12 acceptors, logP -7.4, 11 rotatable bonds)
    polyol = Chem.MolFromSmiles("OCC(O)C(O)C(O)C(O)C(O)C(O)C(O)C(O)C(O)C(O)CO")
    assert lipinski_count(polyol) == 1


def test_ring_sizes_and_flat_dict() -> None:
    props = compute_properties(Chem.MolFromSmiles("C1CC1c1ccc2ccccc2c1C1CCCCCCC1"))
    assert (props["ring_3"], props["ring_6"], props["ring_8"], props["n_rings"]) == (1, 2, 1, 4)
    assert set(props) >= {"qed", "sa", "sa_raw", "logp", "lipinski", "n_heavy_atoms"}


def test_invalid_molecule_raises() -> None:
    bad = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)  # pentavalent carbon
    with pytest.raises(Chem.rdchem.AtomValenceException):
        compute_properties(bad)


def test_reproduces_published_qed_and_sa(shared_data: Path) -> None:
    """QED and SA of the 100 reference ligands equal TargetDiff's released values (means 0.476, 0.728)."""
    ref = pd.read_csv(shared_data / "reference" / "crossdocked_test_reference.csv")
    root = shared_data / "crossdocked_test"
    ours = pd.DataFrame([compute_properties(Chem.MolFromMolFile(str(root / f)))
                         for f in ref["ligand_filename"]])
    assert (ours["qed"] - ref["qed"]).abs().max() < 1e-6
    assert (ours["sa"] - ref["sa"]).abs().max() < 1e-6
    assert ours["qed"].mean() == pytest.approx(0.476, abs=1e-3)
    assert ours["sa"].mean() == pytest.approx(0.728, abs=1e-3)

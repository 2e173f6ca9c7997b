"""Set-level molecule metrics on hand-built molecules with known answers."""

from __future__ import annotations

import math

import pytest
from rdkit import Chem

from molgen.metrics.molecule import (
    atom_type_distribution,
    bond_type_distribution,
    connectivity,
    internal_diversity,
    is_valid,
    js_distance,
    molecule_metrics,
    novelty,
    total_variation,
    uniqueness,
    validity,
)

PENTAVALENT = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)


def test_validity_counts_invalid_valence_and_missing() -> None:
    mols = [Chem.MolFromSmiles("CCO"), PENTAVALENT, None, Chem.MolFromSmiles("c1ccccc1")]
    assert not is_valid(PENTAVALENT)
    assert validity(mols) == 0.5
    assert validity([]) == 0.0


def test_connectivity_two_fragments() -> None:
    assert connectivity([Chem.MolFromSmiles("CCO.CC"), Chem.MolFromSmiles("CCO")]) == 0.5
    assert connectivity(["CCO.CC", "CCO", None]) == pytest.approx(1 / 3)


def test_uniqueness_two_identical_smiles() -> None:
    # "OCC" and "CCO" are the same molecule once canonicalised
    assert uniqueness(["CCO", "OCC", "c1ccccc1"]) == pytest.approx(2 / 3)
    assert math.isnan(uniqueness([None, PENTAVALENT]))


def test_novelty_against_training_smiles() -> None:
    assert novelty(["CCO", "CCN", "c1ccccc1"], ["OCC", "C1=CC=CC=C1"]) == pytest.approx(1 / 3)


def test_internal_diversity() -> None:
    assert internal_diversity(["c1ccccc1CCN", "c1ccccc1CCN"]) == pytest.approx(0.0)
    assert internal_diversity(["c1ccccc1CCN", "OC(=O)CCCCCCCCC(=O)O"]) > 0.8
    assert math.isnan(internal_diversity(["CCO"]))


def test_type_distributions_and_distances() -> None:
    atoms = atom_type_distribution(["CCO", "c1ccncc1"])
    assert atoms == pytest.approx({"C": 7 / 9, "N": 1 / 9, "O": 1 / 9})
    bonds = bond_type_distribution(["CC=O", "c1ccccc1"])
    assert bonds == pytest.approx({"AROMATIC": 6 / 8, "DOUBLE": 1 / 8, "SINGLE": 1 / 8})
    assert total_variation(atoms, atoms) == 0.0 and js_distance(atoms, atoms) == 0.0
    assert total_variation({"C": 1.0}, {"N": 1.0}) == 1.0
    assert js_distance({"C": 1.0}, {"N": 1.0}) == pytest.approx(1.0)
    assert 0 < js_distance({"C": 0.5, "N": 0.5}, {"C": 1.0}) < 1


def test_molecule_metrics_summary() -> None:
    out = molecule_metrics(["CCO", "CCO", "c1ccccc1", None], reference=["CCO"], training_smiles=["CCO"])
    assert out["n_molecules"] == 4 and out["validity"] == 0.75
    assert out["uniqueness"] == pytest.approx(2 / 3) and out["novelty"] == pytest.approx(1 / 3)
    assert out["atom_type_tv"] > 0 and out["bond_type_js"] > 0

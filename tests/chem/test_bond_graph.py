"""Bond graphs: perception from geometry, RDKit round trips, predicted-bond stability."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from molgen.chem.bond_graph import BondGraph, graph_from_mol, mol_from_graph, perceive_bonds
from molgen.metrics.bond_stability import allowed_valences, check_graph, summarize_bond_checks

SMILES = ["CC(=O)O", "c1ccccc1O", "C#N", "NC(=O)c1ccncc1", "C[NH3+]", "CC(=O)[O-]", "OCC1OC(O)C1"]


def _embedded(smiles: str) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return mol


def _canonical(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(Chem.RemoveHs(mol))


@pytest.mark.parametrize("smiles", SMILES)
def test_graph_round_trips_to_the_same_smiles(smiles):
    mol = _embedded(smiles)
    g = graph_from_mol(mol)
    assert not (g.bonds[:, 2] == 4).any(), "graphs are kekulized"
    back, err = mol_from_graph(g)
    assert err is None
    assert _canonical(back) == _canonical(mol)
    np.testing.assert_allclose(back.GetConformer().GetPositions(), mol.GetConformer().GetPositions(), atol=1e-4)
    check, _ = check_graph(g)
    assert check.molecule_stable and check.valid and check.connected


@pytest.mark.parametrize("smiles", ["CC(=O)O", "c1ccccc1O", "NC(=O)c1ccncc1"])
def test_perceived_bonds_of_a_neutral_geometry_give_back_the_molecule(smiles):
    mol = _embedded(smiles)
    g = perceive_bonds(mol.GetConformer().GetPositions(), [a.GetSymbol() for a in mol.GetAtoms()])
    assert g is not None
    assert _canonical(mol_from_graph(g)[0]) == _canonical(mol)


def test_perception_returns_none_when_no_bonding_fits():
    # three oxygens 0.2 A apart: no bond orders make them a neutral molecule
    g = perceive_bonds(np.array([[0.0, 0, 0], [0.2, 0, 0], [0.4, 0, 0]]), ["O", "O", "O"])
    assert g is None


def test_an_impossible_valence_is_invalid_unstable_and_says_why():
    pos = np.zeros((3, 3))
    g = BondGraph(["H", "C", "H"], [0, 0, 0], [[0, 1, 2], [1, 2, 1]], pos)  # H=C: H has valence 2
    check, _ = check_graph(g)
    assert not check.valid and not check.molecule_stable and check.n_stable_atoms == 1
    assert "valence" in check.error.lower()


def test_two_fragments_are_valid_but_not_connected():
    g = graph_from_mol(_embedded("C.O"))
    check, _ = check_graph(g)
    assert check.valid and not check.connected and check.molecule_stable


def test_charged_valences():
    assert allowed_valences("N", 1) == (4,) and allowed_valences("O", -1) == (1,)
    assert allowed_valences("C", 0) == (4,) and allowed_valences("H", 1) == ()


def test_summary_counts_validity_uniqueness_and_novelty():
    checks = [check_graph(graph_from_mol(_embedded(s)))[0] for s in ["CCO", "CCO", "C.O"]]
    m = summarize_bond_checks(checks, reference_smiles={"CCO"})
    assert m["valid"] == 1.0 and m["connected"] == pytest.approx(2 / 3)
    assert m["unique"] == pytest.approx(2 / 3) and m["novel"] == pytest.approx(0.5)


def test_bond_rows_must_be_ordered():
    with pytest.raises(ValueError, match="i < j"):
        BondGraph(["C", "C"], [0, 0], [[1, 0, 1]], np.zeros((2, 3)))


def test_novelty_against_edm_style_reference_smiles_needs_the_same_form():
    from molgen.metrics.bond_stability import heavy_atom_smiles

    ethanol = graph_from_mol(Chem.AddHs(_embedded("CCO")))
    checks = [check_graph(ethanol)[0]]
    edm_style = {Chem.MolToSmiles(Chem.AddHs(Chem.MolFromSmiles("CCO")))}  # every H an atom
    assert summarize_bond_checks(checks, edm_style)["novel"] == 1.0  # the mismatch the helper removes
    assert summarize_bond_checks(checks, heavy_atom_smiles(edm_style))["novel"] == 0.0
    assert heavy_atom_smiles(["", "not a smiles"]) == set()

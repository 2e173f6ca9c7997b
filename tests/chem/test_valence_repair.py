"""Valence repair of predicted bond graphs, and the ligand decoders built on it."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molgen.chem.bond_graph import BondGraph, graph_from_mol, mol_from_graph
from molgen.chem.decode import LigandDecoder
from molgen.chem.valence_repair import max_valence, repair_valence


def _with_bond(g: BondGraph, i: int, j: int, order: int) -> BondGraph:
    """``g`` with the bond i-j set to ``order`` (0 removes it)."""
    i, j = min(i, j), max(i, j)
    rows = [r for r in g.bonds.tolist() if (r[0], r[1]) != (i, j)] + ([[i, j, order]] if order else [])
    return BondGraph(g.elements, g.charges, np.array(sorted(rows)), g.pos, g.implicit_hs)


def _smiles(g: BondGraph) -> str:
    mol, err = mol_from_graph(g)
    assert err is None, err
    return Chem.MolToSmiles(mol)


def test_max_valence_follows_element_and_charge():
    assert [max_valence(e, q) for e, q in [("C", 0), ("N", 0), ("N", 1), ("O", -1), ("Cl", 0), ("S", 0)]] == \
        [4, 3, 4, 1, 1, 6]


@pytest.mark.parametrize("smiles", ["CC(=O)Nc1ccc(O)cc1", "C[NH3+]", "CS(=O)(=O)N", "CC(=O)[O-]"])
def test_a_valid_graph_is_left_as_it_is(embed, smiles):
    g = graph_from_mol(embed(smiles))
    fixed, log = repair_valence(g)
    assert log.n_edits == 0
    np.testing.assert_array_equal(fixed.bonds, g.bonds)
    assert _smiles(fixed) == _smiles(g)


def test_the_multiple_bond_the_geometry_supports_least_is_lowered(embed):
    """Isobutene with a methyl bond typed double: the central carbon has five; the repair lowers
    that bond (1.5 A long), not the real C=C (1.33 A)."""
    mol = embed("C=C(C)C")
    g = graph_from_mol(mol)
    methyl = next(b.GetIdx() for b in mol.GetAtomWithIdx(1).GetNeighbors() if b.GetIdx() not in (0,)
                  and mol.GetBondBetweenAtoms(1, b.GetIdx()).GetBondType() == Chem.BondType.SINGLE)
    broken = _with_bond(g, 1, methyl, 2)
    assert mol_from_graph(broken)[1] is not None, "the edited graph must be invalid"
    fixed, log = repair_valence(broken)
    assert (log.lowered, log.removed, log.joined) == (1, 0, 0)
    assert _smiles(fixed) == _smiles(g)


def test_a_ring_closing_bond_goes_before_a_bond_that_would_split_the_molecule(embed):
    """Neopentanol with a bond from the quaternary carbon to the O two bonds away: five bonds. The
    repair removes that long ring bond, not a methyl (which would split off a piece)."""
    mol = embed("CC(C)(C)CO")
    g = graph_from_mol(mol)
    broken = _with_bond(g, 1, 5, 1)
    fixed, log = repair_valence(broken)
    assert (log.lowered, log.removed) == (0, 1)
    assert _smiles(fixed) == _smiles(g)


def test_pieces_at_bonding_distance_are_joined_and_distant_ones_are_not(embed):
    g = graph_from_mol(embed("CCO"))
    cut = _with_bond(g, 0, 1, 0)  # the C-C bond (1.5 A) missing: two pieces
    fixed, log = repair_valence(cut)
    assert log.joined == 1 and _smiles(fixed) == _smiles(g)

    far = BondGraph(["C", "C"], [0, 0], np.zeros((0, 3)), [[0, 0, 0], [2.5, 0, 0]], implicit_hs=True)
    fixed, log = repair_valence(far)
    assert log.n_edits == 0 and _smiles(fixed) == "C.C"


def test_a_saturated_atom_is_not_joined(embed):
    """A lone carbon 1.5 A from neopentane's quaternary carbon (anti to one methyl) and 1.7-1.8 A from
    two other methyls: it bonds to a methyl, the closest atom with a free valence, not the centre."""
    g = graph_from_mol(embed("CC(C)(C)C"))
    axis = (g.pos[1] - g.pos[0]) / np.linalg.norm(g.pos[1] - g.pos[0])
    extra = g.pos[1] + 1.5 * axis
    both = BondGraph(g.elements + ["C"], np.r_[g.charges, 0], g.bonds, np.r_[g.pos, extra[None]], True)
    fixed, log = repair_valence(both)
    assert log.joined == 1
    new = [row for row in fixed.bonds.tolist() if 5 in row[:2]]
    assert len(new) == 1 and new[0][0] in (2, 3, 4) and new[0][2] == 1
    assert sum(1 in row[:2] for row in fixed.bonds.tolist()) == 4


def test_repaired_decoder_reports_the_model_own_verdict_and_the_edits(embed):
    mol = embed("C=C(C)C")
    g = graph_from_mol(mol)
    broken = _with_bond(g, 1, 2, 2) if mol.GetBondBetweenAtoms(1, 2).GetBondType() == Chem.BondType.SINGLE \
        else _with_bond(g, 1, 3, 2)
    rec, extra = LigandDecoder("repaired")(broken.pos, broken.elements, broken)
    assert rec.valid and rec.method == "repaired"
    assert extra == {"valid_predicted": False, "connected_predicted": True, "bond_edits": 1}
    rec, extra = LigandDecoder("predicted")(broken.pos, broken.elements, broken)
    assert not rec.valid and extra == {}
    rec, extra = LigandDecoder("distances")(g.pos, g.elements, g)
    assert rec.valid and rec.method != "predicted" and extra == {}


def test_unknown_bond_source_is_refused():
    with pytest.raises(ValueError, match=r"bonds='orca': allowed values are predicted, repaired, distances"):
        LigandDecoder("orca")

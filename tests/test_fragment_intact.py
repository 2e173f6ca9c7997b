"""'fragment intact' needs the fragment's bond orders at the fixed atoms, atom k on atom k."""

from __future__ import annotations

from rdkit import Chem

from molgen.sampling import _fragment_intact, fragment_query

PHENOL = Chem.MolFromSmiles("Oc1ccccc1")


def test_aromatic_fragment_kept_with_a_new_substituent_is_intact():
    grown = Chem.MolFromSmiles("Oc1ccccc1CCN")  # atoms 0-6 are the phenol, in order
    assert _fragment_intact(grown, fragment_query(PHENOL), 7)


def test_fragment_whose_ring_lost_its_aromaticity_is_not_intact():
    broken = Chem.MolFromSmiles("OC1CCCCC1")  # the same atoms and connectivity, saturated
    assert not _fragment_intact(broken, fragment_query(PHENOL), 7)


def test_the_match_must_put_each_fragment_atom_on_its_own_fixed_atom():
    # the phenol is present, but its oxygen is generated atom 6, not the fixed atom 0
    moved = Chem.MolFromSmiles("Cc1ccccc1O")
    assert not _fragment_intact(moved, fragment_query(PHENOL), 7)

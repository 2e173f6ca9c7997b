"""PDB ligands with bond orders from the Chemical Component Dictionary (biotite ships it)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from molgen.errors import MolgenInputError
from molgen.io.ccd import hetero_atoms, read_ccd_ligand

pytest.importorskip("biotite")

MINI = Path(__file__).resolve().parents[2] / "data" / "demo" / "posebusters_mini"


def test_trimethoprim_gets_its_bond_orders_and_the_file_coordinates():
    path = MINI / "6xg5_TOP.pdb.gz"
    mol = read_ccd_ligand(path, "TOP")
    expected = Chem.MolFromSmiles("COc1cc(Cc2cnc(N)nc2N)cc(OC)c1OC")
    assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(expected)
    atoms = {name: xyz for name, (el, xyz) in hetero_atoms(path, "TOP").items() if el != "H"}
    assert mol.GetNumAtoms() == len(atoms) == 21
    file_xyz = np.sort(np.stack(list(atoms.values())), axis=0)
    assert np.allclose(np.sort(mol.GetConformer().GetPositions(), axis=0), file_xyz, atol=1e-3)


def test_an_aromatic_nh_ring_is_kekulised_with_the_ccd_hydrogens():
    for path in sorted(MINI.glob("*.pdb.gz")):
        ccd = path.name.split(".")[0].split("_")[1]
        mol = read_ccd_ligand(path, ccd)
        assert Chem.MolFromSmiles(Chem.MolToSmiles(mol)) is not None, path.name
        assert all(a.GetAtomicNum() > 1 for a in mol.GetAtoms())


def test_missing_ligand_and_unknown_code_are_clear_errors(tmp_path):
    with pytest.raises(MolgenInputError, match="no HETATM group named 'XXX'"):
        read_ccd_ligand(MINI / "6xg5_TOP.pdb.gz", "XXX")
    fake = tmp_path / "1abc_QQ9.pdb"
    with gzip.open(MINI / "6xg5_TOP.pdb.gz", "rt") as fh:
        fake.write_text(fh.read().replace(" TOP ", " QQ~ "))
    with pytest.raises(MolgenInputError, match="Chemical Component Dictionary|no atom"):
        read_ccd_ligand(fake, "QQ~")

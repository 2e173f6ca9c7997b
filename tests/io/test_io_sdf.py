"""SD files: reading (3D required, errors name the file) and atomic writing with properties."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from molgen.errors import MolgenInputError
from molgen.io import ligand_record, read_ligand_records, read_ligands, write_sdf


def test_read_demo_ligand(demo_ligand: Path) -> None:
    mols = read_ligands(demo_ligand)
    assert len(mols) == 1
    mol = mols[0]
    assert mol.GetNumAtoms() == 25 and mol.GetConformer().Is3D()
    record = ligand_record(mol)
    assert record.n_atoms == 25 and record.pos.dtype == np.float32
    assert record.path == str(demo_ligand)
    assert set(record.element) == {"C", "N", "O", "S"}
    assert read_ligand_records(demo_ligand)[0].element.tolist() == record.element.tolist()


def test_hydrogens_removed_by_default(tmp_path: Path) -> None:
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    path = write_sdf([mol], tmp_path / "ethanol.sdf")
    assert read_ligands(path)[0].GetNumAtoms() == 3
    assert read_ligands(path, remove_hs=False)[0].GetNumAtoms() == 9
    assert ligand_record(read_ligands(path, remove_hs=False)[0]).n_atoms == 3


def test_read_gz(demo_ligand: Path, tmp_path: Path) -> None:
    path = tmp_path / "lig.sdf.gz"
    path.write_bytes(gzip.compress(demo_ligand.read_bytes()))
    assert read_ligands(path)[0].GetNumAtoms() == 25


def test_2d_molecule_is_an_error(tmp_path: Path) -> None:
    mol = Chem.MolFromSmiles("c1ccccc1O")
    AllChem.Compute2DCoords(mol)
    path = tmp_path / "flat.sdf"
    with Chem.SDWriter(str(path)) as writer:
        writer.write(mol)
    with pytest.raises(MolgenInputError, match=r"flat\.sdf: molecule 1 has 2D coordinates; 3D"):
        read_ligands(path)


_NO_ATOMS = "\n     RDKit          3D\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("this is not\nan SD file\n$$$$\n", "molecule 1 could not be parsed"),
        (_NO_ATOMS, "molecule 1 has no atoms"),
    ],
)
def test_read_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.sdf"
    path.write_text(content)
    with pytest.raises(MolgenInputError, match=message) as info:
        read_ligands(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match=r"none\.sdf: file not found"):
        read_ligands(tmp_path / "none.sdf")


def test_write_sdf_round_trip_with_properties(demo_ligand: Path, tmp_path: Path) -> None:
    mol = read_ligands(demo_ligand)[0]
    out = tmp_path / "sub" / "out.sdf"
    props = [{"_Name": "first", "qed": 0.123456789, "sample": 0}, {"_Name": "second", "note": "ok"}]
    assert write_sdf([mol, mol], out, props) == out
    back = read_ligands(out)
    assert [m.GetProp("_Name") for m in back] == ["first", "second"]
    assert back[0].GetProp("qed") == "0.123457" and back[0].GetProp("sample") == "0"
    assert back[1].GetProp("note") == "ok" and not back[1].HasProp("qed")
    positions = back[0].GetConformer().GetPositions()
    np.testing.assert_allclose(positions, mol.GetConformer().GetPositions(), atol=1e-3)
    assert not mol.HasProp("qed")  # input untouched
    assert [p.name for p in out.parent.iterdir()] == ["out.sdf"]  # no temp file left


class _FailingProps(list):
    """Property list whose second entry raises while the file is being written."""

    def __getitem__(self, index):  # type: ignore[override]
        if index == 1:
            raise KeyError("boom")
        return super().__getitem__(index)


def test_write_sdf_is_atomic_on_failure(demo_ligand: Path, tmp_path: Path) -> None:
    mol = read_ligands(demo_ligand)[0]
    out = write_sdf([mol], tmp_path / "keep.sdf", [{"_Name": "original"}])
    before = out.read_bytes()
    with pytest.raises(MolgenInputError, match="item 2 is not an RDKit molecule"):
        write_sdf([mol, "not a molecule"], out)  # type: ignore[list-item]
    with pytest.raises(KeyError):  # a failure while writing (props[1] missing a dict entry)
        write_sdf([mol, mol], out, _FailingProps([{"_Name": "x"}, {}]))
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.sdf"]
    with pytest.raises(MolgenInputError, match="1 molecules but 2 property dicts"):
        write_sdf([mol], out, [{}, {}])

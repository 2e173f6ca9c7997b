"""Receptor reading: formats, the documented reading rules, and errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import gemmi
import numpy as np
import pytest

from molgen.errors import MolgenInputError
from molgen.io import read_hetero_ligands, read_protein, read_structure_records, structure_format


def _to_mmcif(pdb: Path, out: Path) -> Path:
    structure = gemmi.read_structure(str(pdb))
    structure.setup_entities()
    structure.make_mmcif_document().write_file(str(out))
    return out


def test_reads_crossdocked_receptor(demo_receptor: Path) -> None:
    protein = read_protein(demo_receptor)
    assert protein.n_atoms == 2131  # heavy atoms; the file has no waters or hydrogens to drop
    assert protein.pos.dtype == np.float32 and protein.pos.shape == (2131, 3)
    assert set(protein.element) <= {"C", "N", "O", "S"}
    assert set(protein.chain) == {"D"}
    assert protein.path == str(demo_receptor)
    assert protein.residue_index().max() + 1 == protein.n_residues


def test_gz_and_mmcif_read_the_same_atoms(demo_receptor: Path, tmp_path: Path) -> None:
    plain = read_protein(demo_receptor)
    gz = tmp_path / "rec.pdb.gz"
    gz.write_bytes(gzip.compress(demo_receptor.read_bytes()))
    cif = _to_mmcif(demo_receptor, tmp_path / "rec.cif")
    cif_gz = tmp_path / "rec.cif.gz"
    cif_gz.write_bytes(gzip.compress(cif.read_bytes()))
    for other in (read_protein(gz), read_protein(cif), read_protein(cif_gz)):
        np.testing.assert_allclose(other.pos, plain.pos, atol=1e-3)
        assert (other.residue_keys() == plain.residue_keys()).all()
        assert (other.element == plain.element).all()
        assert (other.atom_name == plain.atom_name).all()


def test_reading_rules_on_hand_written_pdb(tiny_pdb: Path) -> None:
    protein = read_protein(tiny_pdb)
    keys = list(dict.fromkeys(protein.residue_keys().tolist()))
    # insertion code kept; water, ion, free SAH and LIG are not protein
    assert keys == ["A:1", "A:2", "A:52", "A:52A", "A:53", "A:54", "A:55"]
    assert "H" not in set(protein.element)  # hydrogens dropped
    # first model only (model 2 is shifted by +100 A in x)
    assert protein.pos[:, 0].max() < 50
    # altloc: highest occupancy (B, 0.6) for GLY 2 CA
    ca2 = protein.pos[(protein.residue_keys() == "A:2") & (protein.atom_name == "CA")]
    np.testing.assert_allclose(ca2, [[5.0, -0.5, 0.0]])
    # microheterogeneity: ALA (0.7) over SER (0.3) at residue 55
    assert set(protein.res_name[protein.res_seq == 55]) == {"ALA"}
    # MSE read as MET, Se renamed SD and typed S; peptide-bonded SEP HETATM kept as protein
    met = protein.residue_keys() == "A:54"
    assert set(protein.res_name[met]) == {"MET"}
    assert "SD" in protein.atom_name[met] and "Se" not in set(protein.element)
    assert set(protein.res_name[protein.res_seq == 53]) == {"SEP"}
    assert protein.is_backbone.sum() == 4 * 7


def test_hetero_groups(tiny_pdb: Path) -> None:
    groups = read_hetero_ligands(tiny_pdb)
    assert [g.name for g in groups] == ["SAH A:103", "LIG A:201"]  # not water, not the Zn ion
    lig = read_hetero_ligands(tiny_pdb, res_name="LIG")[0]
    assert lig.element.tolist() == ["C", "N", "Cl"] and lig.mol is None
    assert lig.pos.shape == (3, 3)
    with pytest.raises(MolgenInputError, match="no hetero group named 'XYZ'.*LIG, SAH"):
        read_hetero_ligands(tiny_pdb, res_name="XYZ")


def test_posebusters_file_ligand_and_protein(posebusters_dir: Path) -> None:
    path = posebusters_dir / "5sak_ZRY.pdb.gz"
    protein, groups = read_structure_records(path, exclude_res_names=("ZRY",))
    assert protein.n_atoms > 1000 and "H" not in set(protein.element)
    assert [g.name.split()[0] for g in groups] == ["ZRY"]
    assert groups[0].n_atoms == 18 and "H" not in set(groups[0].element)
    with_h = read_hetero_ligands(path, res_name="ZRY", keep_hydrogens=True)[0]
    assert with_h.n_atoms == 31


def test_structure_format() -> None:
    assert structure_format("a.pdb") == "pdb" and structure_format("A.ENT.GZ") == "pdb"
    assert structure_format("a.cif.gz") == "cif" and structure_format("a.mmcif") == "cif"
    with pytest.raises(MolgenInputError, match=r"a\.xyz: unknown structure file type '\.xyz'"):
        structure_format("a.xyz")


_WATER = b"HETATM    1  O   HOH A   1       0.000   0.000   0.000  1.00 20.00           O\nEND\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pdb", b"", "file is empty"),
        ("empty.pdb.gz", gzip.compress(b"  \n"), "file is empty"),
        ("notes.pdb", b"hello, I am not a structure\n", "no atoms found; is this a PDB structure file"),
        ("broken.cif", b"data_x\nloop_\n_atom_site.id\n_atom_site.x\n1\n", "not a readable mmCIF structure"),
        ("binary.pdb.gz", b"\x00\x01 not gzip", "cannot read the file as text"),
        ("water.pdb", _WATER, "no protein atoms found"),
    ],
)  # fmt: skip
def test_errors_name_file_and_problem(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MolgenInputError, match=message) as info:
        read_protein(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match=r"nope\.pdb: file not found"):
        read_protein(tmp_path / "nope.pdb")


def test_ligand_only_file_reads_hetero_but_not_protein(tiny_pdb: Path, tmp_path: Path) -> None:
    only_lig = tmp_path / "lig.pdb"
    only_lig.write_text("\n".join(l for l in tiny_pdb.read_text().splitlines() if " LIG " in l) + "\nEND\n")
    assert read_hetero_ligands(only_lig)[0].n_atoms == 3
    with pytest.raises(MolgenInputError, match="lig.pdb: no protein atoms"):
        read_protein(only_lig)

"""XYZ reading: concatenated plain/gz files, QM9's original per-molecule layout, folders, errors."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from molgen.errors import MolgenInputError
from molgen.io.xyz import XYZMolecule, read_xyz, read_xyz_archive, read_xyz_dir, read_xyz_text, write_xyz

PLAIN = """5
dsgdb9nsd_000001
C -0.012698 1.085804 0.008001
H 0.002150 -0.006031 0.001976
H 1.011731 1.463751 0.000277
H -0.540815 1.447527 -0.876644
H -0.523814 1.437933 0.906397
3
dsgdb9nsd_000003
O -0.034360 0.977540 0.007602
H 0.064766 0.020572 0.001535
H 0.871790 1.300792 0.000693
"""

# QM9's original files: properties on line 2, Mulliken charges, '*^' exponents, 3 trailing lines.
QM9_ORIGINAL_1 = (
    "5\n"
    "gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749"
    "\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t\n"
    "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\n"
    "H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n"
    "H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922\n"
    "H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923\n"
    "H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923\n"
    "1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078\n"
    "C\tC\t\n"
    "InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4\n"
)
QM9_ORIGINAL_2693 = (
    "3\n"
    "gdb 2693\t1.0\t2.0\t3.0\t0.\t1.0\t-0.1\t0.1\t0.2\t3.0\t0.01\t-1.0\t-1.0\t-1.0\t-1.0\t1.0\t\n"
    "O\t-8.7796*^-6\t 0.047293172\t 0.0000633051\t-0.170491\n"
    "H\t 0.7581\t 0.5865\t 1.2*^-5\t 0.085\n"
    "H\t-0.7581\t 0.5865\t 0.0\t 0.085\n"
    "1600.1\t3700.2\t3800.3\n"
    "O\tO\t\n"
    "InChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2\n"
)


def test_plain_concatenated(tmp_path: Path):
    path = tmp_path / "two.xyz"
    path.write_text(PLAIN)
    mols = read_xyz(path)
    assert [m.name for m in mols] == ["dsgdb9nsd_000001", "dsgdb9nsd_000003"]
    assert mols[0].element.tolist() == ["C", "H", "H", "H", "H"]
    assert mols[0].pos.dtype == np.float32 and mols[0].pos.shape == (5, 3)
    assert mols[1].pos[2, 0] == pytest.approx(0.871790)
    assert mols[0].charges is None and mols[0].extra_lines == ()
    assert len(read_xyz(path, max_molecules=1)) == 1


def test_gzip_same_as_plain(tmp_path: Path):
    path = tmp_path / "two.xyz.gz"
    path.write_bytes(gzip.compress(PLAIN.encode()))
    mols = read_xyz(path)
    assert len(mols) == 2 and mols[1].element.tolist() == ["O", "H", "H"]


def test_qm9_original_layout_concatenated():
    mols = read_xyz_text(QM9_ORIGINAL_1 + QM9_ORIGINAL_2693, "orig.xyz")
    assert [m.name for m in mols] == ["dsgdb9nsd_000001", "dsgdb9nsd_002693"]
    assert mols[0].charges is not None and mols[0].charges[0] == pytest.approx(-0.535689)
    assert mols[0].pos[0, 0] == pytest.approx(-0.0126981359)
    assert mols[1].pos[0, 0] == pytest.approx(-8.7796e-6)  # '*^' exponent
    assert mols[1].pos[1, 2] == pytest.approx(1.2e-5)
    assert len(mols[0].extra_lines) == 3 and mols[0].extra_lines[1].startswith("C\tC")


def test_folder_of_qm9_files(tmp_path: Path):
    (tmp_path / "dsgdb9nsd_002693.xyz").write_text(QM9_ORIGINAL_2693)
    (tmp_path / "dsgdb9nsd_000001.xyz").write_text(QM9_ORIGINAL_1)
    (tmp_path / "notes.txt").write_text("not a molecule")
    mols = read_xyz_dir(tmp_path)
    assert [m.name for m in mols] == ["dsgdb9nsd_000001", "dsgdb9nsd_002693"]  # sorted, stems
    assert [m.n_atoms for m in mols] == [5, 3]
    assert len(read_xyz_dir(tmp_path, max_molecules=1)) == 1


def test_tar_archive(tmp_path: Path):
    path = tmp_path / "dsgdb9nsd.xyz.tar.bz2"
    with tarfile.open(path, "w:bz2") as tar:
        members = [("dsgdb9nsd_000001.xyz", QM9_ORIGINAL_1), ("dsgdb9nsd_002693.xyz", QM9_ORIGINAL_2693)]
        for name, text in members:
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    mols = read_xyz_archive(path)
    assert [m.name for m in mols] == ["dsgdb9nsd_000001", "dsgdb9nsd_002693"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("5\nmol\nC 0 0 0\nH 1 0 0\nH 0 1 0\n", r"bad\.xyz.*declares 5 atoms.*truncated"),
        ("x\nmol\nC 0 0 0\n", r"bad\.xyz: line 1: expected an atom count"),
        ("0\nmol\n", r"bad\.xyz: line 1: atom count is 0"),
        ("2\nmol\nC 0 0 0\nH 1 0\n", r"bad\.xyz: line 4: expected 'El x y z'"),
        ("2\nmol\nC 0 0 0\nC1 1 0 0\n", r"bad\.xyz: line 4: 'C1' is not an element"),
        ("2\nmol\nC 0 0 0\nH 1 zero 0\n", r"bad\.xyz: line 4: 'zero' is not a number"),
        ("3\nmol\nC 0 0 0\nH 1 0 0\n1\nmol2\nH 0 0 0\n", r"bad\.xyz: line 5: expected 'El x y z', got '1'"),
    ],
)
def test_bad_files_name_file_and_problem(tmp_path: Path, text: str, match: str):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(MolgenInputError, match=match):
        read_xyz(path)


def test_missing_and_corrupt_inputs(tmp_path: Path):
    with pytest.raises(MolgenInputError, match="no such file"):
        read_xyz(tmp_path / "absent.xyz")
    broken = tmp_path / "broken.xyz.gz"
    broken.write_bytes(gzip.compress(PLAIN.encode())[:40])
    with pytest.raises(MolgenInputError, match="broken.xyz.gz: cannot read"):
        read_xyz(broken)
    with pytest.raises(MolgenInputError, match="no file matches"):
        read_xyz_dir(tmp_path, pattern="*.none")


def test_write_read_roundtrip(tmp_path: Path):
    pos = np.array([[0, 0, 0], [1.75, 0, 0]], np.float32)
    mol = XYZMolecule("x", np.array(["C", "Cl"], dtype="<U2"), pos)
    for name in ("out.xyz", "out.xyz.gz"):
        write_xyz([mol, mol], tmp_path / name)
        back = read_xyz(tmp_path / name)
        assert len(back) == 2 and back[0].element.tolist() == ["C", "Cl"]
        np.testing.assert_allclose(back[1].pos, mol.pos)


def test_shared_qm9_file_head(shared_data: Path):
    path = shared_data / "qm9" / "qm9_hcno.xyz.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    mols = read_xyz(path, max_molecules=100)
    assert len(mols) == 100 and mols[0].name == "dsgdb9nsd_000001"
    assert {e for m in mols for e in m.element.tolist()} <= {"H", "C", "N", "O"}

"""Bad-input catalogue: each case raises MolgenInputError naming the file (line, residue) and what to do.

Documented behaviours (hydrogens, alternate locations, insertion codes, models, waters and ions,
gzip) are asserted too. Config values are in ``test_reliability_config.py``.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from molgen.data.featurize import featurize_ligand, featurize_pocket
from molgen.data.vocab import POCKET_ELEMENTS, ElementVocab, pocket_element_index
from molgen.errors import MolgenInputError
from molgen.io.pocket import read_pocket, select_pocket
from molgen.io.records import LigandRecord
from molgen.io.sdf import read_ligands
from molgen.io.structure import read_hetero_ligands, read_protein
from molgen.io.xyz import read_xyz
from molgen.sampling import SamplingJob, run_ligand_sampling

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(range(256)) * 2
READERS: dict[str, Callable] = {"pdb": read_protein, "cif": read_protein, "sdf": read_ligands,
                                "xyz": read_xyz}


def _raises(fn: Callable, path: Path, match: str) -> str:
    with pytest.raises(MolgenInputError, match=match) as info:
        fn(path)
    assert str(path.name) in str(info.value), "the message must name the file"
    return str(info.value)


# --- files that are missing, empty, of the wrong kind, cut short ----------------------------
@pytest.mark.parametrize("suffix", ["pdb", "cif", "sdf", "xyz"])
def test_missing_file(tmp_path: Path, suffix: str) -> None:
    _raises(READERS[suffix], tmp_path / f"absent.{suffix}", r"absent\.\w+: (file not found|no such file)")


@pytest.mark.parametrize(("name", "content"), [
    ("empty.pdb", b""), ("blank.pdb", b"\n  \n"), ("empty.cif", b""), ("empty.sdf", b""),
    ("empty.pdb.gz", gzip.compress(b"")), ("empty.sdf.gz", gzip.compress(b"")), ("empty.xyz", b""),
])
def test_empty_file(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    _raises(READERS[name.split(".")[1]], tmp_path / name,
            r"(file is empty|no molecule in file \(empty file\?\))")


@pytest.mark.parametrize(("name", "content", "match"), [
    ("image.pdb", PNG, r"image\.pdb: no atoms found; is this a PDB structure file\?"),
    ("notes.pdb", b"meeting notes\nnothing here\n", r"no atoms found; is this a PDB structure file\?"),
    ("image.cif", PNG, r"image\.cif: not a readable mmCIF structure .*data_"),
    ("image.sdf", PNG, r"image\.sdf: molecule 1 could not be parsed by RDKit \(record starting at line 1: "
                       r"malformed record: .*not an SD file\?\)"),
    ("notes.sdf", b"meeting notes\n\n\nnothing here\n", r"molecule 1 could not be parsed .*not an SD file\?"),
    ("image.xyz", PNG, r"image\.xyz: not a text XYZ file"),
    ("notes.xyz", b"meeting notes\n", r"notes\.xyz: line 1: expected an atom count, got 'meeting notes'"),
    ("image.pdb.gz", PNG, r"image\.pdb\.gz: cannot read the file as text .*gzip"),
])
def test_not_a_structure_file(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    (tmp_path / name).write_bytes(content)
    _raises(READERS[name.split(".")[1]], tmp_path / name, match)


def test_unknown_structure_suffix(tmp_path: Path) -> None:
    (tmp_path / "rec.mol2").write_text("@<TRIPOS>MOLECULE\n")
    _raises(read_protein, tmp_path / "rec.mol2",
            r"unknown structure file type '\.mol2'; expected one of .*\.pdb")


def test_pdb_cut_mid_line_names_the_line(tmp_path: Path) -> None:
    lines = RECEPTOR.read_text().splitlines()
    (tmp_path / "cut.pdb").write_text("\n".join(lines[:300]) + "\n" + lines[300][:45])
    _raises(read_protein, tmp_path / "cut.pdb", r"cut\.pdb: line 301: ATOM record cut short .*truncated")


@pytest.mark.parametrize(("cut", "match"), [
    ("no M END", r"molecule 1 could not be parsed .*line 1: malformed record: .*missing 'M  END'"),
    ("half the atoms", r"molecule 1 could not be parsed .*truncated file"),
])
def test_sdf_cut_short(tmp_path: Path, cut: str, match: str) -> None:
    text = LIGAND.read_text()
    text = text.split("M  END")[0] if cut == "no M END" else "\n".join(text.splitlines()[:15])
    (tmp_path / "cut.sdf").write_text(text)
    _raises(read_ligands, tmp_path / "cut.sdf", match)


def test_sdf_without_final_dollars_is_accepted(tmp_path: Path) -> None:
    """Documented: the last record may omit ``$$$$`` (RDKit and the SD format allow it)."""
    (tmp_path / "open.sdf").write_text(LIGAND.read_text().split("$$$$")[0])
    assert read_ligands(tmp_path / "open.sdf")[0].GetNumAtoms() == read_ligands(LIGAND)[0].GetNumAtoms()


def _five_valent_nitrogen() -> str:
    xyz = [(0.0, 0.0, 0.0), (1.4, 0.0, 0.1), (-1.4, 0.0, 0.2), (0.0, 1.4, 0.3), (0.0, -1.4, 0.4),
           (0.1, 0.1, 1.4)]
    atoms = [f"{x:10.4f}{y:10.4f}{z:10.4f} {'N' if i == 0 else 'C':<3} 0  0  0  0  0  0  0  0  0  0  0  0"
             for i, (x, y, z) in enumerate(xyz)]
    bonds = [f"  1{k:>3}  1  0" for k in range(2, 7)]
    return "\n".join(["bad", "     RDKit          3D", "", "  6  5  0  0  0  0  0  0  0  0999 V2000",
                      *atoms, *bonds, "M  END", "$$$$", ""])


def test_second_record_bad_valence_names_record_line_and_atom(tmp_path: Path) -> None:
    good = LIGAND.read_text() + "$$$$\n"  # the demo file omits the final $$$$
    (tmp_path / "two.sdf").write_text(good + _five_valent_nitrogen())
    _raises(read_ligands, tmp_path / "two.sdf",
            rf"molecule 2 could not be parsed by RDKit \(record starting at line {good.count(chr(10)) + 1}: "
            r"Explicit valence for atom # 0 N, 5, is greater than permitted")


@pytest.mark.parametrize("fmt", ["pdb", "sdf", "xyz"])
def test_truncated_or_corrupt_gzip(tmp_path: Path, fmt: str) -> None:
    raw = gzip.compress(RECEPTOR.read_bytes() if fmt == "pdb" else b"3\nw\nO 0 0 0\nH 1 0 0\nH 0 1 0\n" * 50
                        if fmt == "xyz" else LIGAND.read_bytes())
    (tmp_path / f"cut.{fmt}.gz").write_bytes(raw[: len(raw) // 2])
    _raises(READERS[fmt], tmp_path / f"cut.{fmt}.gz",
            r"cannot read.*(ended before the end-of-stream|truncated)")
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    (tmp_path / f"bad.{fmt}.gz").write_bytes(bytes(flipped))
    _raises(READERS[fmt], tmp_path / f"bad.{fmt}.gz", r"cannot read")


# --- structures without what is needed ---------------------------------------------------------
def test_pdb_without_protein_atoms(tmp_path: Path) -> None:
    hetatm = [line for line in RECEPTOR.read_text().splitlines() if line.startswith("ATOM")][:20]
    (tmp_path / "lig.pdb").write_text("\n".join("HETATM" + line[6:17] + "LIG" + line[20:] for line in hetatm))
    _raises(read_protein, tmp_path / "lig.pdb", r"lig\.pdb: no protein atoms found \(no amino-acid residues")


@pytest.mark.parametrize(("definition", "match"), [
    ({"ref_ligand_pos": np.full((3, 3), 500.0, dtype=np.float32)},
     r"no protein atom within 10 A of the reference ligand \(ligand centre \[500\.0.*nearest protein atom "
     r"\d+\.\d A away\)\. Is the ligand in the receptor's frame\? "
     r"Chains available: D \(121-392, 272 residues\)"),
    ({"residues": "A:145,A:146"},
     r"residues not found in the receptor: A:145, A:146\. Chains available: D \("),
    ({"residues": "D:145,D:9999"},
     r"residues not found in the receptor: D:9999\. Chains available: D \(121-392"),
    ({"residues": "D145"}, r"residues: cannot read 'D145'; expected CHAIN:NUMBER"),
    ({"box_center": [500.0, 0.0, 0.0], "box_size": 10.0}, r"no protein atom inside the box .*receptor spans"),
])
def test_pocket_selecting_nothing_says_what_is_there(definition: dict, match: str) -> None:
    with pytest.raises(MolgenInputError, match=match) as info:
        select_pocket(read_protein(RECEPTOR), **definition)
    assert "5d7n_D_rec.pdb" in str(info.value) or "residues:" in str(info.value)


def test_reference_ligand_without_3d_coordinates(tmp_path: Path) -> None:
    mol = Chem.MolFromSmiles("c1ccccc1O")
    AllChem.Compute2DCoords(mol)
    Chem.MolToMolFile(mol, str(tmp_path / "flat.sdf"))
    with pytest.raises(MolgenInputError, match=r"flat\.sdf: molecule 1 has 2D coordinates; 3D coordinates "
                                               r"are required \(embed a conformer first"):
        read_pocket(RECEPTOR, ref_ligand=tmp_path / "flat.sdf")


def test_reference_ligand_with_zero_atoms(tmp_path: Path) -> None:
    (tmp_path / "none.sdf").write_text("\n     RDKit          3D\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\n"
                                       "M  END\n$$$$\n")
    with pytest.raises(MolgenInputError, match=r"none\.sdf: molecule 1 has no atoms"):
        read_pocket(RECEPTOR, ref_ligand=tmp_path / "none.sdf")
    with pytest.raises(MolgenInputError, match=r"5d7n_D_rec\.pdb: the reference ligand has no atoms"):
        select_pocket(read_protein(RECEPTOR), ref_ligand_pos=np.zeros((0, 3), dtype=np.float32))


# --- elements ----------------------------------------------------------------------------------
@pytest.mark.parametrize("element", ["Se", "B", "Zn", "Fe"])
def test_ligand_element_outside_vocabulary(element: str) -> None:
    record = LigandRecord(pos=np.zeros((3, 3), dtype=np.float32), element=["C", element, "O"], name="x",
                          path="/data/lig.sdf")
    with pytest.raises(MolgenInputError, match=rf"/data/lig\.sdf: element '{element}' is not in the ligand "
                                               r"element vocabulary \(C, N, O, S, P, F, Cl, Br, I\)"):
        featurize_ligand(record, ElementVocab())


def test_sampling_restricted_to_an_element_outside_vocabulary(make_tiny_task, demo_pocket, tmp_path) -> None:
    job = SamplingJob(outdir=tmp_path, n_samples=1, n_atoms=(5, 5), steps=2, allowed_elements=("B",))
    with pytest.raises(MolgenInputError, match=r"element 'B' is not in the ligand element vocabulary \(C, N"):
        run_ligand_sampling(make_tiny_task(), demo_pocket, job)


def test_pocket_elements_outside_c_n_o_s_are_typed_other() -> None:
    """Documented mapping: pocket atoms are C, N, O, S or 'other' (Se, metals bonded in a residue)."""
    assert [POCKET_ELEMENTS[pocket_element_index(e)] for e in ("C", "S", "Se", "Zn", "Fe")] == \
        ["C", "S", "other", "other", "other"]


# --- documented reading rules ------------------------------------------------------------------
def _atom(serial, name, res, seq, xyz, element, *, record="ATOM", altloc=" ", icode=" ", occ=1.0) -> str:
    pad = f" {name:<3}" if len(name) < 4 and len(element) == 1 else f"{name:<4}"
    return (f"{record:<6}{serial:>5} {pad}{altloc}{res:>3} A{seq:>4}{icode}   "
            f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{occ:6.2f}{20.0:6.2f}          {element:>2}")


def _residue(serial, res, seq, x, **kw) -> list[str]:
    return [_atom(serial + i, n, res, seq, (x + dx, dy, 0.0), e, **kw)
            for i, (n, dx, dy, e) in enumerate((("N", 0, 0, "N"), ("CA", 1, 0, "C"), ("C", 2.5, 0, "C"),
                                                ("O", 2.5, 1.2, "O")))]


@pytest.fixture()
def rules_pdb(tmp_path: Path) -> Path:
    """ALA 1 with an H; GLY 2 CA in altlocs A (0.4) / B (0.6); SER 52 and 52A; HOH; ZN; LIG (3 atoms);
    then a second model moved by 100 A."""
    lines = _residue(1, "ALA", 1, 0.0) + [_atom(5, "H", "ALA", 1, (0.0, -1.0, 0.0), "H")]
    lines += [_atom(6, "N", "GLY", 2, (4.0, 0, 0), "N"),
              _atom(7, "CA", "GLY", 2, (5.0, 0.5, 0), "C", altloc="A", occ=0.4),
              _atom(8, "CA", "GLY", 2, (5.0, -0.5, 0), "C", altloc="B", occ=0.6),
              _atom(9, "C", "GLY", 2, (6.5, 0, 0), "C"), _atom(10, "O", "GLY", 2, (6.5, 1.2, 0), "O")]
    lines += _residue(11, "SER", 52, 8.0) + _residue(15, "SER", 52, 12.0, icode="A")
    lines += [_atom(19, "O", "HOH", 101, (10.0, 5.0, 0.0), "O", record="HETATM"),
              _atom(20, "ZN", "ZN", 102, (12.0, 5.0, 0.0), "ZN", record="HETATM")]
    lines += [_atom(21 + i, n, "LIG", 201, (8.0 + 1.4 * i, 6.0, 0.0), e, record="HETATM")
              for i, (n, e) in enumerate((("C1", "C"), ("N1", "N"), ("CL1", "CL")))]
    moved = [ln[:30] + f"{float(ln[30:38]) + 100:8.3f}" + ln[38:] for ln in lines]
    path = tmp_path / "rules.pdb"
    path.write_text("MODEL        1\n" + "\n".join(lines) + "\nENDMDL\nMODEL        2\n" + "\n".join(moved)
                    + "\nENDMDL\nEND\n")
    return path


def test_reading_rules_altloc_icode_models_water_ions_hydrogens(rules_pdb: Path) -> None:
    protein = read_protein(rules_pdb)
    assert protein.pos[:, 0].max() < 50, "only the first model is read"
    assert "H" not in set(protein.element), "hydrogens are dropped"
    assert list(dict.fromkeys(protein.residue_keys().tolist())) == ["A:1", "A:2", "A:52", "A:52A"], \
        "insertion codes are kept in residue ids; water, ion and ligand are not protein"
    ca2 = protein.pos[(protein.residue_keys() == "A:2") & (protein.atom_name == "CA")]
    np.testing.assert_allclose(ca2, [[5.0, -0.5, 0.0]], atol=1e-3, err_msg="highest-occupancy altloc wins")
    hetero = read_hetero_ligands(rules_pdb)
    assert [h.name for h in hetero] == ["LIG A:201"], "waters and single-atom ions are not ligands"
    assert read_pocket(rules_pdb, residues="A:52A").n_atoms == 4


def test_hydrogens_present_or_absent_give_the_same_heavy_atoms(tmp_path: Path) -> None:
    plain = read_ligands(LIGAND)[0]
    with_h = Chem.AddHs(plain, addCoords=True)
    Chem.MolToMolFile(with_h, str(tmp_path / "h.sdf"))
    read_back = read_ligands(tmp_path / "h.sdf")[0]
    assert read_back.GetNumAtoms() == plain.GetNumAtoms()
    np.testing.assert_allclose(read_back.GetConformer().GetPositions(), plain.GetConformer().GetPositions(),
                               atol=1e-3)
    assert read_ligands(tmp_path / "h.sdf", remove_hs=False)[0].GetNumAtoms() == with_h.GetNumAtoms()


@pytest.mark.parametrize("name", ["rec.pdb.gz", "rec.cif.gz", "lig.sdf.gz", "mols.xyz.gz"])
def test_gzipped_inputs_read_like_plain(tmp_path: Path, name: str) -> None:
    if name.startswith("rec.cif"):
        gemmi = pytest.importorskip("gemmi")
        doc = gemmi.read_structure(str(RECEPTOR))
        doc.setup_entities()
        plain = doc.make_mmcif_document().as_string().encode()
    else:
        plain = {"rec": RECEPTOR.read_bytes(), "lig": LIGAND.read_bytes(),
                 "mols": b"3\nwater\nO 0 0 0\nH 0.96 0 0\nH 0 0.96 0\n"}[name.split(".")[0]]
    read = READERS[name.split(".")[1]]
    (tmp_path / name).write_bytes(gzip.compress(plain))
    (tmp_path / name[:-3]).write_bytes(plain)
    a, b = read(tmp_path / name), read(tmp_path / name[:-3])
    if hasattr(a, "pos"):
        np.testing.assert_array_equal(a.pos, b.pos)
    else:
        assert len(a) == len(b) == 1


# --- very large pockets ------------------------------------------------------------------------
def test_too_large_pocket_is_refused_before_sampling(make_tiny_task, demo_pocket, tmp_path: Path) -> None:
    task = make_tiny_task(max_pocket_atoms=50)
    calls = []
    task.denoise = lambda *a, **k: calls.append(1)  # must never run
    job = SamplingJob(outdir=tmp_path / "out", n_samples=2, n_atoms=(5, 5), steps=2)
    match = (rf"5d7n_D_rec\.pdb: the pocket \(.*\) has {demo_pocket.n_atoms} heavy atoms, more than this "
             r"model's limit of 50 \(max_pocket_atoms\); cut a smaller pocket: a smaller cutoff=")
    with pytest.raises(MolgenInputError, match=match):
        run_ligand_sampling(task, demo_pocket, job)
    assert not calls and not (tmp_path / "out").exists()


def test_pocket_feature_rows_match_the_limit_units(demo_pocket) -> None:
    """The limit counts pocket nodes: atoms in ``full`` mode, residues in ``ca`` mode."""
    assert featurize_pocket(demo_pocket, "full")["pocket_pos"].shape[0] == demo_pocket.n_atoms
    assert featurize_pocket(demo_pocket, "ca")["pocket_pos"].shape[0] == demo_pocket.n_residues
    assert torch.get_num_threads() >= 1

"""Pocket selection by reference ligand, residue list and box; errors list what is available."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from molgen.errors import MolgenInputError
from molgen.io import (
    PocketRecord,
    parse_residue_spec,
    read_hetero_ligands,
    read_ligand_records,
    read_pocket,
    read_protein,
    read_structure_records,
    select_pocket,
)
from molgen.io.pocket import _min_distances


def test_parse_residue_spec() -> None:
    assert parse_residue_spec("A:45, A:46,B:12") == ["A:45", "A:46", "B:12"]
    assert parse_residue_spec(["A:52a", "A:52A", " B:-3 "]) == ["A:52A", "B:-3"]
    for bad in ("A45", "A:x", "A:45:1", ""):
        with pytest.raises(MolgenInputError, match="residues:"):
            parse_residue_spec(bad)


def _check_ligand_rule(protein, pocket: PocketRecord, ligand_pos: np.ndarray, cutoff: float) -> None:
    near = _min_distances(protein.pos, ligand_pos) <= cutoff
    expected = set(protein.residue_keys()[near].tolist())
    assert set(pocket.residue_keys().tolist()) == expected
    # whole residues: every atom of a selected residue is in the pocket
    assert pocket.n_atoms == int(np.isin(protein.residue_keys(), list(expected)).sum())


def test_every_definition_on_crossdocked(crossdocked_dir: Path) -> None:
    folder = crossdocked_dir / "ABL2_HUMAN_274_551_0"
    receptor = folder / "4xli_B_rec.pdb"
    ligand_sdf = folder / "4xli_B_rec_4xli_1n1_lig_tt_min_0.sdf"
    protein = read_protein(receptor)
    ligand = read_ligand_records(ligand_sdf)[0]

    by_ligand = read_pocket(receptor, ref_ligand=ligand_sdf)
    _check_ligand_rule(protein, by_ligand, ligand.pos, 10.0)
    assert "4xli_B_rec_4xli_1n1_lig_tt_min_0.sdf" in by_ligand.definition
    small = read_pocket(receptor, ref_ligand=ligand_sdf, cutoff=5.0)
    assert small.n_residues < by_ligand.n_residues

    by_residues = read_pocket(receptor, residues="B:300,B:301,B:317")
    assert list(dict.fromkeys(by_residues.residue_keys().tolist())) == ["B:300", "B:301", "B:317"]
    assert by_residues.n_atoms == read_pocket(receptor, residues=["B:317", "B:300", "B:301"]).n_atoms

    centre = ligand.pos.mean(axis=0)
    by_box = read_pocket(receptor, box_center=centre.tolist(), box_size=16.0)
    inside = (np.abs(protein.pos - centre) <= 8.0).all(axis=1)
    assert set(by_box.residue_keys().tolist()) == set(protein.residue_keys()[inside].tolist())
    assert read_pocket(receptor, box_center=centre, box_size=[16, 16, 16]).n_atoms == by_box.n_atoms


def test_ligand_definition_on_posebusters(posebusters_dir: Path) -> None:
    path = posebusters_dir / "5sak_ZRY.pdb.gz"
    protein, _ = read_structure_records(path, exclude_res_names=("ZRY",))
    ligand = read_hetero_ligands(path, res_name="ZRY")[0]
    pocket = select_pocket(protein, ref_ligand_pos=ligand.pos)
    _check_ligand_rule(protein, pocket, ligand.pos, 10.0)
    assert 100 < pocket.n_atoms < protein.n_atoms


def test_demo_pocket_definitions(demo_receptor: Path, demo_ligand: Path) -> None:
    pocket = read_pocket(demo_receptor, ref_ligand=demo_ligand)
    assert isinstance(pocket, PocketRecord) and pocket.path == str(demo_receptor)
    assert 400 < pocket.n_atoms < 700
    assert read_pocket(demo_receptor, residues="D:160").n_residues == 1


def test_insertion_code_residue(tiny_pdb: Path) -> None:
    protein = read_protein(tiny_pdb)
    pocket = select_pocket(protein, residues="A:52A")
    assert set(pocket.residue_keys().tolist()) == {"A:52A"} and pocket.n_atoms == 4
    assert select_pocket(protein, residues=["A:52", "A:52A"]).n_residues == 2


def test_empty_selections_explain_what_is_there(demo_receptor: Path, demo_ligand: Path) -> None:
    protein = read_protein(demo_receptor)
    missing = r"residues not found in the receptor: A:160\. Chains available: D \("
    with pytest.raises(MolgenInputError, match=missing):
        select_pocket(protein, residues="A:160")
    with pytest.raises(MolgenInputError, match=r"not found in the receptor: D:9999\b"):
        select_pocket(protein, residues="D:160,D:9999")
    far = read_ligand_records(demo_ligand)[0].pos + 200.0
    too_far = r"no protein atom within 10 A of the reference ligand.*nearest protein atom"
    with pytest.raises(MolgenInputError, match=too_far):
        select_pocket(protein, ref_ligand_pos=far)
    with pytest.raises(MolgenInputError, match=r"no protein atom inside the box.*the receptor spans"):
        select_pocket(protein, box_center=[500.0, 0.0, 0.0], box_size=10)
    for message in (str(e) for e in _errors(protein)):
        assert str(demo_receptor) in message


def _errors(protein):
    for kwargs in ({"residues": "A:1"}, {"box_center": [500, 0, 0], "box_size": 1}):
        try:
            select_pocket(protein, **kwargs)
        except MolgenInputError as exc:
            yield exc


def test_exactly_one_definition(demo_receptor: Path) -> None:
    protein = read_protein(demo_receptor)
    with pytest.raises(MolgenInputError, match="exactly one definition.*got none"):
        select_pocket(protein)
    with pytest.raises(MolgenInputError, match="exactly one definition.*got residues, box"):
        select_pocket(protein, residues="D:160", box_center=[0, 0, 0], box_size=5)
    with pytest.raises(MolgenInputError, match="box_center given without box_size"):
        select_pocket(protein, box_center=[0, 0, 0])
    with pytest.raises(MolgenInputError, match="box_center must be 3 numbers"):
        select_pocket(protein, box_center=[0, 0], box_size=5)
    with pytest.raises(MolgenInputError, match="box_size must be positive"):
        select_pocket(protein, box_center=[0, 0, 0], box_size=-1)

"""Fixtures of the data tests: bundled demo complexes (data/demo) and a shared dataset cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from molgen.data.featurize import ComplexData, make_complex
from molgen.io import read_ligand_records, read_pocket, read_protein

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
DEMO_COMPLEX = DEMO / "SIR3_HUMAN_117_398_0"


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def posebusters_mini() -> Path:
    return DEMO / "posebusters_mini"


@pytest.fixture(scope="session")
def demo_records():
    """(ligand, pocket10, receptor-cut pocket) records of the demo complex."""
    ligand = read_ligand_records(DEMO_COMPLEX / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf")[0]
    pocket10 = read_protein(DEMO_COMPLEX / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0_pocket10.pdb")
    cut = read_pocket(DEMO_COMPLEX / "5d7n_D_rec.pdb", residues="D:160,D:161,D:162,D:163")
    return ligand, pocket10, cut


@pytest.fixture(scope="session")
def demo_complex(demo_records) -> ComplexData:
    ligand, pocket10, _ = demo_records
    return make_complex(ligand, pocket10, name="demo")


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session, so the mini PoseBusters set is processed once."""
    return tmp_path_factory.mktemp("molgen-cache")

"""Fixtures of the molecule/pose metric tests: 3D molecules from SMILES, the CrossDocked reference complex."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

BSD_DIR = "crossdocked_test/BSD_ASPTE_1_130_0"


def _embed(smiles: str, seed: int = 0) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=seed)
    AllChem.MMFFOptimizeMolecule(mol)
    return Chem.RemoveHs(mol)


@pytest.fixture(scope="session")
def embed() -> Callable[..., Chem.Mol]:
    """``embed(smiles, seed=0)``: heavy-atom Mol with an MMFF-optimised 3D conformer."""
    return _embed


@pytest.fixture(scope="session")
def bsd_complex(shared_data: Path) -> tuple[Path, Path]:
    """(ligand SDF, receptor PDB) of BSD_ASPTE 2z3h; published Vina score -8.822 kcal/mol."""
    return (shared_data / BSD_DIR / "2z3h_A_rec_1wn6_bst_lig_tt_docked_3.sdf",
            shared_data / BSD_DIR / "2z3h_A_rec.pdb")


@pytest.fixture(scope="session")
def receptor_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One receptor PDBQT cache for the whole session (receptor preparation takes seconds)."""
    path = tmp_path_factory.getbasetemp() / "receptor_cache"  # shared by tests/chem and tests/metrics
    path.mkdir(exist_ok=True)
    return path

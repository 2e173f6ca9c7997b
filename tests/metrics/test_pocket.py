"""Pose metrics: clashes (hand-placed atoms), strain energy, PoseBusters on a CrossDocked pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit import Chem

from molgen.metrics.pocket import count_clashes, posebusters_checks, strain_energy


def test_clashes_sum_of_vdw_minus_tolerance() -> None:
    lig = np.zeros((1, 3))
    # C...C limit 1.70 + 1.70 - 0.5 = 2.9 A
    assert count_clashes(lig, ["C"], np.array([[2.8, 0, 0]]), ["C"]) == 1
    assert count_clashes(lig, ["C"], np.array([[3.0, 0, 0]]), ["C"]) == 0
    # an N...O hydrogen bond at 2.8 A is no clash (limit 1.55 + 1.52 - 0.5 = 2.57)
    assert count_clashes(lig, ["N"], np.array([[2.8, 0, 0]]), ["O"]) == 0
    # hydrogens are ignored; pairs are counted
    prot = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 9.0]])
    assert count_clashes(lig, ["C"], prot, ["H", "C", "C"]) == 1
    assert count_clashes(lig, ["C"], prot, ["C", "C", "C"], tolerance=0.0) == 2


def test_strain_of_minimised_and_distorted_pose(embed) -> None:
    relaxed = embed("CC(=O)Nc1ccc(O)cc1")
    low = strain_energy(relaxed)
    assert low["force_field"] == "mmff"
    assert 0 <= low["strain_energy"] < 1.0
    stretched = Chem.Mol(relaxed)
    conf = stretched.GetConformer()
    for i, p in enumerate(conf.GetPositions()):
        conf.SetAtomPosition(i, (p * 1.1).tolist())
    assert strain_energy(stretched)["strain_energy"] > 20.0


def test_posebusters_dock_checks(shared_data: Path, bsd_complex) -> None:
    """The BSD_ASPTE reference pose passes the protein checks; its non-aromatic ring is flat."""
    ligand, receptor = bsd_complex
    mol = Chem.MolFromMolFile(str(ligand))
    rows = posebusters_checks([mol, None], receptor)
    assert rows[1] == {}
    checks = rows[0]
    assert checks["pb_sanitization"] and checks["pb_bond_lengths"]
    assert checks["pb_minimum_distance_to_protein"] and checks["pb_volume_overlap_with_protein"]
    assert checks["pb_non_aromatic_ring_non_flatness"] is False
    assert checks["pb_valid"] is False
    assert len(checks) >= 20

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


def test_posebusters_gives_up_a_molecule_past_its_time_limit_and_checks_the_rest() -> None:
    """The checks run in a child process, one molecule at a time: a molecule not done within
    ``timeout`` gets only ``pb_error`` and the child restarts for the next one; the reference
    ligand of the demo pocket, in its pose, gets the same verdicts with and without a limit."""
    from molgen.config import REPO_ROOT

    demo = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0"
    receptor = demo / "5d7n_D_rec.pdb"
    mol = Chem.MolFromMolFile(str(demo / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"))
    given_up = posebusters_checks([mol, None, mol], receptor, timeout=0.001)
    assert given_up[1] == {}
    for row in (given_up[0], given_up[2]):
        assert list(row) == ["pb_error"] and "gave up after 0.001 s" in row["pb_error"]
    bounded = posebusters_checks([mol], receptor, timeout=120)
    assert bounded == posebusters_checks([mol], receptor, timeout=None)
    assert "pb_valid" in bounded[0] and len(bounded[0]) >= 20


def test_posebusters_time_limit_works_from_a_script_without_a_main_guard(tmp_path) -> None:
    """The child is a fresh ``python -m`` process: a user's plain script is not run again in it."""
    import subprocess
    import sys

    from molgen.config import REPO_ROOT

    demo = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0"
    script = tmp_path / "check.py"
    script.write_text(
        "from rdkit import Chem\n"
        "from molgen.metrics.pocket import posebusters_checks\n"
        "print('script body ran', flush=True)\n"
        f"mol = Chem.MolFromMolFile({str(demo / '5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf')!r})\n"
        f"print(sorted(posebusters_checks([mol], {str(demo / '5d7n_D_rec.pdb')!r}, timeout=120)[0])[-1])\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["script body ran", "pb_volume_overlap_with_waters"]


def test_the_posebusters_worker_ends_when_its_parent_is_killed():
    """A killed benchmark leaves no PoseBusters process behind (the worker's stdin stays open
    here, so only the parent watch can end it)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    read_end, write_end = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "p = subprocess.Popen([sys.executable, '-m', 'molgen.metrics.posebusters_worker'], "
         "stdin=int(sys.argv[1]), pass_fds=(int(sys.argv[1]),)); print(p.pid, flush=True); time.sleep(120)",
         str(read_end)], stdout=subprocess.PIPE, pass_fds=(read_end,))
    os.close(read_end)
    try:
        worker = int(parent.stdout.readline())
        time.sleep(1.0)
        parent.send_signal(signal.SIGKILL)
        parent.wait()

        def alive() -> bool:
            try:
                with open(f"/proc/{worker}/stat") as f:
                    return f.read().split(")")[-1].split()[0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.monotonic() + 15.0
        while alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive()
    finally:
        os.close(write_end)

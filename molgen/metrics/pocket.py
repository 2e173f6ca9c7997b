"""Pose metrics of a ligand in its pocket: PoseBusters checks, clashes, strain energy.

* **PoseBusters** (``posebusters`` package, config ``"dock"``: ligand + receptor, no true pose):
  one boolean column per check, prefixed ``pb_``, and ``pb_valid`` = all checks pass. Its energy
  ratio embeds 50 ETKDG conformers of the molecule, which for some strained polycycles a model
  generates runs for tens of minutes; so the checks run in a child process, one molecule at a time,
  and a molecule still being checked after ``timeout`` seconds is given up (``pb_error`` says so,
  no ``pb_`` verdicts) and the child restarted for the rest.
* **Clashes**: number of ligand-protein heavy-atom pairs closer than the sum of their van der
  Waals radii (RDKit periodic table, Bondi) minus ``tolerance`` = 0.5 A -- PoseCheck's definition
  (Harris et al. 2023), on heavy atoms since generated ligands and pockets carry no hydrogens.
  For C...C that is 2.9 A; an N-H...O hydrogen bond at 2.8 A (limit 2.57 A) is no clash.
* **Strain energy** (kcal/mol): force-field energy of the pose minus the energy of the nearest
  local minimum. Hydrogens are added with coordinates (``Chem.AddHs(addCoords=True)``) and first
  relaxed with the heavy atoms fixed, so that badly placed H do not count as strain; then
  ``E_pose`` is taken, the whole molecule is minimised without restraints, and
  ``strain = E_pose - E_relaxed``. MMFF94 where it has parameters, UFF otherwise.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem

from molgen.chem.vdw import vdw_radii

__all__ = [
    "CLASH_TOLERANCE",
    "PB_TIMEOUT",
    "count_clashes",
    "posebusters_checks",
    "run_posebusters",
    "strain_energy",
]

CLASH_TOLERANCE = 0.5
"""Angstrom subtracted from the sum of vdW radii before a pair counts as a clash."""


def count_clashes(
    ligand_pos: np.ndarray,
    ligand_elements: Sequence[str],
    protein_pos: np.ndarray,
    protein_elements: Sequence[str],
    *,
    tolerance: float = CLASH_TOLERANCE,
) -> int:
    """Ligand-protein heavy-atom pairs with distance < r_vdw(a) + r_vdw(b) - ``tolerance``.

    Hydrogens (element ``H``/``D``) on either side are ignored. Positions in Angstrom.
    """
    lig_pos = np.asarray(ligand_pos, dtype=float).reshape(-1, 3)
    prot_pos = np.asarray(protein_pos, dtype=float).reshape(-1, 3)
    lig_keep = np.array([str(e).upper() not in ("H", "D") for e in ligand_elements], dtype=bool)
    prot_keep = np.array([str(e).upper() not in ("H", "D") for e in protein_elements], dtype=bool)
    if not lig_keep.any() or not prot_keep.any():
        return 0
    lig_pos, prot_pos = lig_pos[lig_keep], prot_pos[prot_keep]
    # an element RDKit does not know counts carbon-sized
    r_lig = vdw_radii([e for e, k in zip(ligand_elements, lig_keep) if k], unknown=1.7)
    r_prot = vdw_radii([e for e, k in zip(protein_elements, prot_keep) if k], unknown=1.7)
    # only protein atoms near the ligand matter: cut before the full distance matrix
    near = np.linalg.norm(prot_pos - lig_pos.mean(0), axis=1) <= (
        np.linalg.norm(lig_pos - lig_pos.mean(0), axis=1).max() + 2 * r_prot.max()
    )
    if not near.any():
        return 0
    d = np.linalg.norm(lig_pos[:, None, :] - prot_pos[None, near, :], axis=-1)
    limit = r_lig[:, None] + r_prot[None, near] - tolerance
    return int((d < limit).sum())


def strain_energy(mol: Chem.Mol, *, max_iters: int = 2000) -> dict[str, Any]:
    """Strain of the pose in kcal/mol (see the module docstring).

    Returns:
        ``{"strain_energy", "pose_energy", "relaxed_energy", "force_field"}``.

    Raises:
        ValueError: neither MMFF nor UFF can parameterise the molecule.
    """
    from molgen.chem.pose_relaxation import force_field

    molh = Chem.AddHs(Chem.Mol(mol), addCoords=True)
    picked = force_field(molh)
    if picked is None:
        raise ValueError("neither MMFF94 nor UFF has parameters for this molecule")
    ff, name = picked
    for atom in molh.GetAtoms():  # relax only the added hydrogens
        if atom.GetAtomicNum() > 1:
            ff.AddFixedPoint(atom.GetIdx())
    ff.Minimize(maxIts=max_iters)
    pose_energy = float(ff.CalcEnergy())
    relax, _ = force_field(molh)  # positions now hold the H-relaxed pose
    relax.Minimize(maxIts=max_iters)
    relaxed_energy = float(relax.CalcEnergy())
    return {
        "strain_energy": pose_energy - relaxed_energy,
        "pose_energy": pose_energy,
        "relaxed_energy": relaxed_energy,
        "force_field": name,
    }


PB_TIMEOUT = 120.0
"""Seconds PoseBusters may spend on one molecule before it is given up (:func:`posebusters_checks`)."""

_PB_START = 300.0
"""Seconds the PoseBusters child process may take to start (imports) before it is ready."""


def run_posebusters(mols: Sequence[Chem.Mol], receptor: str, config: str) -> list[dict[str, Any]]:
    """PoseBusters on ``mols`` in this process, unbounded: one dict of ``pb_`` verdicts per molecule
    (``posebusters_checks`` adds the time limit)."""
    from posebusters import PoseBusters

    buster = PoseBusters(config=config)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        table = buster.bust(mol_pred=list(mols), mol_true=None, mol_cond=receptor, full_report=False)
    checks = [c for c in table.columns if table[c].dtype == bool or set(table[c].dropna()) <= {True, False}]
    rows = []
    for _, row in table.iterrows():
        out = {f"pb_{c.replace('-', '_').replace(' ', '_')}": bool(row[c]) for c in checks}
        out["pb_valid"] = bool(all(out.values()))
        rows.append(out)
    return rows


def posebusters_checks(
    mols: Sequence[Chem.Mol | None], receptor: str | Path, *, config: str = "dock",
    timeout: float | None = PB_TIMEOUT,
) -> list[dict[str, Any]]:
    """PoseBusters checks of each pose against the receptor PDB.

    Returns one dict per input (same order): ``pb_<check>`` booleans and ``pb_valid`` (all pass);
    ``None`` inputs give ``{}``. Check names are PoseBusters' with ``-`` and spaces as ``_``.
    With a ``timeout`` (seconds per molecule) the checks run in a child process and a molecule not
    done in time gets only ``pb_error`` (see the module docstring); ``None`` runs them here,
    unbounded.
    """
    index = [k for k, m in enumerate(mols) if m is not None]
    rows: list[dict[str, Any]] = [{} for _ in mols]
    if not index:
        return rows
    if timeout is None:
        for k, out in zip(index, run_posebusters([mols[k] for k in index], str(receptor), config)):
            rows[k] = out
        return rows
    todo = list(index)
    while todo:
        done = _bust_in_child([mols[k] for k in todo], str(receptor), config, timeout)
        for out in done:
            rows[todo.pop(0)] = out
    return rows


def _bust_in_child(mols: Sequence[Chem.Mol], receptor: str, config: str, timeout: float) -> list[dict[str, Any]]:
    """PoseBusters on ``mols`` in a child process (:mod:`molgen.metrics.posebusters_worker`), in
    order, until one takes longer than ``timeout`` or the child ends: the results so far, that
    molecule's ``pb_error`` last (at least one row)."""
    import pickle
    import queue
    import subprocess
    import sys
    import tempfile
    import threading

    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "molgen.metrics.posebusters_worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        out: list[dict[str, Any]] = []
        try:
            proc.stdin.write(pickle.dumps(([m.ToBinary() for m in mols], receptor, config)))
            proc.stdin.close()
            started = False
            while len(out) < len(mols):
                try:
                    line = lines.get(timeout=timeout if started else _PB_START)
                except queue.Empty:
                    out.append({"pb_error": f"PoseBusters gave up after {timeout:g} s (ETKDG conformers of the "
                                            "energy ratio)" if started else
                                            f"the PoseBusters process did not start in {_PB_START:g} s"})
                    break
                if line is None:
                    proc.wait()
                    log.seek(0)
                    tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
                    out.append({"pb_error": f"the PoseBusters process ended (exit code {proc.returncode})"
                                            + (f": {tail[0]}" if tail else "")})
                    break
                if line.strip() == b"ready":
                    started = True
                    continue
                out.append(json.loads(line))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return out


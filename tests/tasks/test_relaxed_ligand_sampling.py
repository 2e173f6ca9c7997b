"""`molgen sample` relaxes each valid pose by default (molgen/chem/pose_relaxation.py): the bundled
pocket model, the demo pocket, a fixed fragment of the reference ligand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rdkit import Chem

from molgen.api import REPO_ROOT

REF = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0" / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


def _run(out, *extra):
    from molgen.cli import main

    main(["sample", "n_samples=4", "batch_size=4", "steps=40", "threads=1", f"outdir={out}",
          "fix_atoms=[0,1,2,3,4,5]", *extra])
    table = pd.read_csv(out / "samples.csv", keep_default_na=False)
    mols = [m for m in Chem.SDMolSupplier(str(out / "ligands.sdf"), removeHs=False)]
    return table, mols, (out / "summary.md").read_text()


def test_relaxation_moves_generated_atoms_only_and_changes_no_molecule(tmp_path):
    relaxed, mols, summary = _run(tmp_path / "relaxed")
    raw, raw_mols, raw_summary = _run(tmp_path / "raw", "relax=false")
    assert re.search(r"pose relaxation +\| MMFF94 \(UFF\), heavy atoms free within 0\.3 A", summary)
    assert re.search(r"pose relaxation +\| off", raw_summary) and "relax_rmsd" not in raw
    valid = relaxed["valid"].astype(bool)
    assert valid.any() and (valid == raw["valid"].astype(bool)).all()  # the same molecules, same seeds
    assert (relaxed.loc[valid, "relax_rmsd"].astype(float) > 0).all()
    assert (relaxed.loc[valid, "relax_force_field"] != "").all()
    fixed = Chem.MolFromMolFile(str(REF)).GetConformer().GetPositions()[:6]
    for mol, before in zip(mols, raw_mols):
        pos = mol.GetConformer().GetPositions()
        np.testing.assert_allclose(pos[:6], fixed, atol=2e-3)  # fixed atoms stay put (SDF precision)
        moved = np.linalg.norm(pos - before.GetConformer().GetPositions(), axis=1)
        # near where the model put them: free within 0.3 A, a 100 kcal/mol/A^2 restraint beyond, so an
        # atom of a strained ring (a fused cyclopropene of this 40-step run) may move ~1 A, the pose less
        assert 0 < moved.max() < 1.5 and np.sqrt((moved ** 2).mean()) < 0.5

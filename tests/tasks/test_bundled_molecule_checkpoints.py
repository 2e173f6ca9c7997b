"""The bundled QM9 checkpoints: the bond-aware molecule.pt and the earlier atoms-only one keep sampling."""

from __future__ import annotations

import torch

from molgen.api import bundled_checkpoint
from molgen.checkpoint import load_task
from molgen.sampling import SamplingJob, run_molecule_sampling


def test_bundled_molecule_checkpoint_predicts_bonds(tmp_path):
    task = load_task(bundled_checkpoint("molecule"))
    assert getattr(task, "predicts_bonds", False) and task.atom_counts
    table = run_molecule_sampling(task, SamplingJob(outdir=tmp_path, n_samples=2, steps=3, seed=0))
    assert len(table) == 2 and {"mol_stable", "edm_mol_stable", "connected"} <= set(table.columns)


def test_earlier_atoms_only_checkpoint_still_loads_and_samples(tmp_path):
    task = load_task(bundled_checkpoint("molecule").with_name("molecule_atoms.pt"))
    assert not getattr(task, "predicts_bonds", False)
    torch.manual_seed(0)
    table = run_molecule_sampling(task, SamplingJob(outdir=tmp_path, n_samples=2, steps=3, seed=0))
    assert len(table) == 2 and "edm_mol_stable" not in table and (tmp_path / "molecules.sdf").exists()


def test_bundled_drug_like_pretraining_checkpoint_samples_heavy_atom_molecules(tmp_path):
    """ligand_pretrain.pt (moses3d, stage 1 of the pocket model) samples with predicted bonds; its
    molecules have implicit hydrogens, so no EDM verdict is given."""
    task = load_task(bundled_checkpoint("molecule").with_name("ligand_pretrain.pt"))
    assert getattr(task, "predicts_bonds", False) and "H" not in task.elements
    table = run_molecule_sampling(task, SamplingJob(outdir=tmp_path, n_samples=2, steps=3, seed=0))
    assert len(table) == 2 and (tmp_path / "molecules.sdf").exists()
    assert "edm_mol_stable" not in table or table["edm_mol_stable"].isna().all()


def test_earlier_atoms_only_pocket_checkpoint_still_loads_and_samples(tmp_path):
    """ligand_pocket_atoms.pt (the pocket model bundled before the bond-aware one) keeps sampling
    in the demo pocket; its bonds come from distances, so it predicts none."""
    from molgen.config import REPO_ROOT
    from molgen.io.pocket import read_pocket
    from molgen.sampling import run_ligand_sampling

    demo = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0"
    task = load_task(bundled_checkpoint("ligand_pocket").with_name("ligand_pocket_atoms.pt"))
    assert not getattr(task, "predicts_bonds", False)
    pocket = read_pocket(demo / "5d7n_D_rec.pdb", ref_ligand=demo / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf")
    table = run_ligand_sampling(task, pocket, SamplingJob(outdir=tmp_path, n_samples=2, n_atoms=(12, 12), steps=3, seed=0))
    assert len(table) == 2 and (tmp_path / "ligands.sdf").exists()

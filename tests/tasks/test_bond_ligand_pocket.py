"""The bond-aware pocket model: poses with bonds, training, sampling in the pocket frame with
fixed fragments, guidance and seeds, and `molgen sample` writing the predicted bonds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from molgen.data.datasets.pose_complexes import PoseComplexDataset
from molgen.data.featurize import FOLLOW_BATCH
from molgen.data.leakage import MANIFEST_COLUMNS
from molgen.data.transforms import CenterOnPocket
from molgen.tasks.ligand_pocket import Fragment
from molgen.testing import write_untrained_checkpoint

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR, LIGAND = DEMO / "5d7n_D_rec.pdb", DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"
ELEMENTS = ["C", "N", "O", "S", "P", "F", "Cl", "Br", "I"]
SMALL = ["experiment=ligand_pocket_bonds_cpu", "model.hidden=16", "model.edge_dim=8", "model.n_layers=2",
         "model.context_layers=1", "task.module.sample_steps=3"]


def _manifest(tmp_path: Path, rows: list[dict]) -> Path:
    table = pd.DataFrame([{c: r.get(c, "") for c in MANIFEST_COLUMNS} for r in rows])
    path = tmp_path / "manifest.csv"
    table.to_csv(path, index=False)
    return path


def _pose(tmp_path: Path, name: str, sdf: Path, **kw) -> dict:
    return {"source": "fep", "complex": f"demo/{name}", "pose": name, "protein": str(RECEPTOR),
            "ligand": str(sdf), "ligand_ref": "0", "kept": "True", **kw}


@pytest.fixture(scope="module")
def poses(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("poses")
    bad = tmp / "boron.sdf"  # an element outside the vocabulary: skipped with its reason
    mol = Chem.MolFromMolFile(str(LIGAND))
    rw = Chem.RWMol(mol)
    rw.GetAtomWithIdx(0).SetAtomicNum(5)
    rw.GetAtomWithIdx(0).SetNoImplicit(False)
    Chem.MolToMolFile(rw.GetMol(), str(bad), kekulize=False)
    manifest = _manifest(tmp, [_pose(tmp, "a", LIGAND), _pose(tmp, "b", LIGAND), _pose(tmp, "boron", bad),
                               _pose(tmp, "dropped", LIGAND, kept="False")])
    return PoseComplexDataset(manifest, "/", vocab=ELEMENTS, cache_dir=tmp / "cache", transform=CenterOnPocket())


def test_poses_carry_the_ligand_bonds_and_skip_what_they_cannot_represent(poses):
    assert poses.names == ["demo/a:a", "demo/b:b"]
    assert [name for name, _ in poses.skipped] == ["demo/boron:boron"]
    assert "B" in poses.skipped[0][1] and "boron.sdf" in poses.skipped[0][1]
    ref = Chem.MolFromMolFile(str(LIGAND))
    data = poses[0]
    assert data.ligand_bond_index.shape[1] == ref.GetNumBonds()
    assert poses.smiles()[0] == Chem.MolToSmiles(ref)
    assert torch.allclose(data.pocket_pos.mean(0), torch.zeros(3), atol=1e-4)


def test_batched_bond_indices_point_into_their_own_ligand(poses):
    batch = next(iter(DataLoader([poses[0], poses[1]], batch_size=2, follow_batch=FOLLOW_BATCH)))
    n = poses[0].ligand_pos.shape[0]
    torch.testing.assert_close(batch.ligand_bond_index[:, poses[0].ligand_bond_index.shape[1]:],
                               poses[1].ligand_bond_index + n)


def test_the_pose_cache_is_reused(poses):
    again = PoseComplexDataset(poses.manifest, "/", vocab=ELEMENTS, cache_dir=poses.cache_path.parent)
    assert again.from_cache and again.names == poses.names


@pytest.fixture(scope="module")
def task(poses):
    from hydra.utils import instantiate

    from molgen.config import compose
    from molgen.data.ligand_size import fit_ligand_size_model

    torch.manual_seed(0)
    t = instantiate(compose("train", SMALL).task.module)
    t.size_model = fit_ligand_size_model(poses.size_pairs() * 3)
    return t


def test_training_loss_is_finite_with_and_without_the_pocket(task, poses):
    batch = next(iter(DataLoader([poses[0], poses[1]], batch_size=2, follow_batch=FOLLOW_BATCH)))
    task.train()
    task.context_dropout = 1.0  # every pocket dropped: the unconditional branch
    out = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
    task.context_dropout = 0.1
    out2 = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
    for o in (out, out2):
        assert torch.isfinite(o["loss"]) and o["loss_bonds"] > 0
    out2["loss"].backward()
    assert task.net.encoder is not None and any(p.grad is not None for p in task.net.encoder.parameters())
    task.eval()


def _pocket(poses):
    d = poses[0]
    return d.pocket_pos, d.pocket_feat, d.center


def test_generated_ligands_carry_their_bonds_in_the_receptor_frame(task, poses):
    pos, feat, center = _pocket(poses)
    out = task.generate(pos, feat, [6, 9], center=center, steps=3, generator=torch.Generator().manual_seed(0))
    assert [len(g.elements) for g in out] == [6, 9]
    for g in out:
        assert g.graph is not None and g.finite
        np.testing.assert_allclose(g.pos, g.graph.pos)
        assert g.graph.implicit_hs
        # the receptor frame: within reach of the pocket, not of the origin of the centred frame
        assert np.linalg.norm(g.pos.mean(0) - center.numpy()[0]) < 15.0


def test_seeds_make_a_ligand_prior_draw_independent_of_its_batch(task):
    """(The categorical jumps of later steps draw from the run's generator, as in every flow step.)"""
    together = task._prior([7, 8], None, [11, 12])
    alone = task._prior([8], None, [12])
    sel = together.batch == 1
    torch.testing.assert_close(together.pos[sel], alone.pos)
    torch.testing.assert_close(together.atom_types[sel], alone.atom_types)
    torch.testing.assert_close(together.bond_types[together.pair_batch == 1], alone.bond_types)


def test_a_fixed_fragment_keeps_its_atoms_charges_and_bonds(task, poses):
    pos, feat, center = _pocket(poses)
    ref = Chem.MolFromMolFile(str(LIGAND))
    frag_mol = Chem.RWMol(ref)
    for idx in sorted(range(6, ref.GetNumAtoms()), reverse=True):
        frag_mol.RemoveAtom(idx)
    fragment = Fragment.from_mol(frag_mol.GetMol())
    out = task.generate(pos, feat, [10, 12], center=center, steps=3, fragment=fragment,
                        generator=torch.Generator().manual_seed(1))
    for g in out:
        np.testing.assert_allclose(g.pos[:6], fragment.pos, atol=1e-4)
        assert g.elements[:6] == fragment.elements
        inside = {tuple(b) for b in g.graph.bonds.tolist() if b[0] < 6 and b[1] < 6}
        assert inside == {tuple(b) for b in fragment.graph.bonds.tolist()}
        np.testing.assert_array_equal(g.graph.charges[:6], fragment.graph.charges)


def test_allowed_elements_guidance_and_resample(task, poses):
    pos, feat, center = _pocket(poses)
    out = task.generate(pos, feat, [8, 8], center=center, steps=3, allowed_elements=["C", "N"],
                        guidance_scale=2.0, generator=torch.Generator().manual_seed(0))
    assert {e for g in out for e in g.elements} <= {"C", "N"}
    with pytest.raises(ValueError, match="resample"):
        task.generate(pos, feat, [8], center=center, steps=3, resample=2)


def test_chemistry_guidance_mixes_the_logits_and_keeps_the_conditional_coordinates(task, poses):
    """``GuidanceScale(positions=1, chemistry=w)``: the clean coordinates are the pocket-conditioned
    estimate, the atom, charge and bond logits ``u + w (c - u)``; ``(w, w)`` is the number ``w``."""
    from molgen.diffusion.guidance import GuidanceScale

    pos, feat, _ = _pocket(poses)
    net = task.sampling_net
    ctx = net.encode_context(pos, feat, torch.zeros(pos.shape[0], dtype=torch.long)).shared_by(
        torch.zeros(1, dtype=torch.long))
    x = task._prior([7], None, [3])
    t = torch.full((1,), 0.6)
    cond, uncond = task._net_call(net, x, t, None, ctx), task._net_call(net, x, t, None, None)
    got = task._predict(net, x, t, None, ctx, GuidanceScale(1.0, 0.25), None)
    torch.testing.assert_close(got.x0, cond.x0)
    for name in ("atom_logits", "charge_logits", "bond_logits"):
        u, c = getattr(uncond, name), getattr(cond, name)
        torch.testing.assert_close(getattr(got, name), u + 0.25 * (c - u))
    assert not torch.allclose(got.bond_logits, cond.bond_logits)
    both = task._predict(net, x, t, None, ctx, GuidanceScale.parse([0.5, 0.5]), None)
    number = task._predict(net, x, t, None, ctx, 0.5, None)
    for name in ("x0", "atom_logits", "bond_logits"):
        torch.testing.assert_close(getattr(both, name), getattr(number, name))
    out = task.generate(pos, feat, [6, 7], steps=3, guidance_scale=GuidanceScale(1.0, 0.5),
                        generator=torch.Generator().manual_seed(0))
    assert all(g.finite and g.graph is not None for g in out)


def test_default_guidance_is_the_model_s_own(task):
    """``guidance_scale=null``: chemistry halfway to the unconditional model for a bond-aware model
    trained with pocket dropout; conditional for one trained without (it has no unconditional branch)."""
    from molgen.diffusion.guidance import GuidanceScale
    from molgen.sampling_common import BOND_MODEL_GUIDANCE, guidance

    assert task.context_dropout > 0
    assert guidance(task, None) == GuidanceScale(*BOND_MODEL_GUIDANCE) and BOND_MODEL_GUIDANCE[1] < 1
    assert guidance(task, 1) == GuidanceScale(1.0, 1.0) and guidance(task, [1, 0]) == GuidanceScale(1.0, 0.0)
    before, task.context_dropout = task.context_dropout, 0.0
    try:
        assert guidance(task, None).conditional
    finally:
        task.context_dropout = before


def test_molgen_sample_writes_the_predicted_bonds(tmp_path):
    from molgen.cli import main

    ckpt = write_untrained_checkpoint(tmp_path / "pocket_bonds.pt", SMALL)
    out = tmp_path / "out"
    main(["sample", f"ckpt={ckpt}", "n_samples=3", "steps=3", f"outdir={out}", "n_atoms=[8,10]"])
    rows = pd.read_csv(out / "samples.csv", keep_default_na=False)
    assert len(rows) == 3 and (out / "ligands.sdf").exists()
    # an untrained model predicts nonsense bonds: the error is RDKit's verdict on them, not on distances
    assert all(r.valid or r.error for r in rows.itertuples())
    assert "| pocket guidance" in (out / "summary.md").read_text()
    assert "1 (positions) / 0.5 (chemistry)" in (out / "summary.md").read_text()


def test_repaired_bonds_keep_the_model_own_verdict_beside_them(tmp_path):
    """`molgen sample` repairs over-valent atoms by default; `bonds=predicted` writes the bonds as
    predicted. Same seed, same molecules: the repaired run's valid_predicted is the other's valid,
    and a repair only ever adds valid molecules."""
    from molgen.cli import main

    ckpt = write_untrained_checkpoint(tmp_path / "pocket_bonds.pt", SMALL)
    tables = {}
    for bonds in ("predicted", "repaired"):
        out = tmp_path / bonds
        main(["sample", f"ckpt={ckpt}", "n_samples=6", "steps=3", f"outdir={out}", "n_atoms=[8,10]",
              f"bonds={bonds}"])
        tables[bonds] = pd.read_csv(out / "samples.csv", keep_default_na=False)
    pred, rep = tables["predicted"], tables["repaired"]
    assert "valid_predicted" not in pred and {"valid_predicted", "connected_predicted", "bond_edits"} <= set(rep)
    assert rep["valid_predicted"].astype(bool).tolist() == pred["valid"].astype(bool).tolist()
    assert (rep["valid"].astype(bool) >= pred["valid"].astype(bool)).all()
    whole = pred["valid"].astype(bool) & pred["connected"].astype(bool)  # nothing to repair
    assert (rep.loc[whole, "bond_edits"] == 0).all()
    assert "valid, bonds as predicted" in (tmp_path / "repaired" / "summary.md").read_text()


def test_pocket_repulsion_keeps_generated_atoms_out_of_the_pocket(task, poses):
    """Same seeds with and without repulsion: the repelled ligands end farther from the pocket's
    atoms (the last step's clean estimate is the sample, and it is repelled; no pair held, since an
    untrained model's ligands are clumps whose every pair would be)."""
    from molgen.diffusion.pocket_repulsion import PocketRepulsion
    from molgen.diffusion.sampling_guides import SamplingGuides

    pos, feat, center = _pocket(poses)
    pocket = pos + center
    nearest = {}
    repelled = SamplingGuides((PocketRepulsion(min_distance=2.5, iterations=50, keep_within=0.0),))
    for name, rep in (("free", None), ("repelled", repelled)):
        out = task.generate(pos, feat, [10, 12], center=center, steps=3, seeds=[3, 4], guides=rep,
                            generator=torch.Generator().manual_seed(0))
        nearest[name] = min(float(torch.cdist(torch.as_tensor(g.pos, dtype=pocket.dtype), pocket).min())
                            for g in out)
    assert nearest["free"] < 2.5, "an untrained model should put some atom inside the pocket"
    assert nearest["repelled"] > 2.3



def test_fragment_attraction_leaves_every_piece_touching_the_largest(task, poses):
    """The last step's clean estimate is the sample, its bonds the estimate's most likely ones: with
    fragment attraction every piece of every generated ligand ends within bonding distance of the
    largest piece (an untrained model predicts many pieces; without attraction some lie far)."""
    from molgen.diffusion.fragment_attraction import FragmentAttraction, pieces
    from molgen.diffusion.sampling_guides import SamplingGuides

    pos, feat, center = _pocket(poses)

    def farthest_piece(graphs) -> float:
        worst = 0.0
        for g in graphs:
            xyz = torch.as_tensor(g.pos)
            label = pieces(len(xyz), torch.as_tensor(g.bonds[:, :2].T, dtype=torch.long).reshape(2, -1))
            main = label == torch.bincount(label).argmax()
            for lab in set(label[~main].tolist()):
                worst = max(worst, float(torch.cdist(xyz[label == lab], xyz[main]).min()))
        return worst

    kwargs = dict(center=center, steps=3, seeds=[3, 4, 5], generator=torch.Generator().manual_seed(0))
    free = [a.graph for a in task.generate(pos, feat, [10, 12, 14], **kwargs)]
    pulled = [a.graph for a in task.generate(pos, feat, [10, 12, 14], **kwargs,
                                             guides=SamplingGuides((FragmentAttraction(),)))]
    assert farthest_piece(free) > 2.0, "an untrained model should leave some piece apart"
    assert farthest_piece(pulled) <= 1.5 + 1e-4


def test_the_task_trains_on_batches_with_replayed_molecules(task, poses):
    """Moses3d replay (molgen/data/replay.py): molecules come as complexes with an empty pocket,
    beside real complexes or as a whole batch."""
    from molgen.data.replay import PocketlessMolecules

    mol = poses[1]
    as_molecule = Data(pos=mol.ligand_pos - mol.ligand_pos.mean(0), atom_types=mol.ligand_types,
                       charges=mol.ligand_charges, bond_index=mol.ligand_bond_index,
                       bond_types=mol.ligand_bond_types, num_nodes=mol.ligand_pos.shape[0])
    replayed = PocketlessMolecules([as_molecule], pocket_dim=poses[0].pocket_feat.shape[1])[0]
    for items in ([poses[0], replayed], [replayed, replayed]):
        batch = next(iter(DataLoader(items, batch_size=2, follow_batch=FOLLOW_BATCH)))
        task.train()
        out = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
        task.eval()
        assert torch.isfinite(out["loss"]) and out["loss_bonds"] > 0

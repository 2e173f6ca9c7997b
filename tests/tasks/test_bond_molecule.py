"""The bond-aware molecule task: encode/decode round trip, training, sampler step, CLI sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from torch_geometric.data import Batch, Data

from molgen.chem.bond_graph import CHARGES, BondGraph, graph_from_mol, mol_from_graph
from molgen.testing import random_rotation, write_untrained_checkpoint

ELEMENTS = ("H", "C", "N", "O")
SMALL = ["experiment=molecule_bonds_cpu", "model.hidden=16", "model.edge_dim=8", "model.n_layers=2",
         "task.module.sample_steps=4"]


def _data(smiles: str) -> Data:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    g = graph_from_mol(mol)
    pos = torch.tensor(g.pos)
    return Data(pos=pos - pos.mean(0), atom_types=torch.tensor([ELEMENTS.index(e) for e in g.elements]),
                charges=torch.tensor(g.charges) + 1, bond_index=torch.tensor(g.bonds[:, :2]).T.contiguous(),
                bond_types=torch.tensor(g.bonds[:, 2]), num_nodes=len(g.elements))


@pytest.fixture(scope="module")
def task():
    from hydra.utils import instantiate

    from molgen.config import compose

    torch.manual_seed(0)
    t = instantiate(compose("train", SMALL).task.module)
    t.atom_counts = {9: 1, 12: 2}
    return t


SMILES = ["CC(=O)O", "c1ccoc1", "NC=O", "C[NH3+]", "OCC#N"]


def test_a_training_molecule_round_trips_to_the_same_smiles(task):
    batch = Batch.from_data_list([_data(s) for s in SMILES])
    state = task.unpack(batch)
    for smiles, mol in zip(SMILES, state.split()):
        graph = BondGraph([ELEMENTS[i] for i in mol["atom_types"].tolist()],
                          np.asarray(CHARGES)[mol["charges"].numpy()], mol["bonds"].numpy(), mol["pos"].numpy())
        back, err = mol_from_graph(graph)
        assert err is None
        assert Chem.MolToSmiles(Chem.RemoveHs(back)) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_training_loss_is_finite_and_has_every_part(task):
    batch = Batch.from_data_list([_data(s) for s in SMILES])
    out = task.diffusion_loss(task.unpack(batch), torch.Generator().manual_seed(0))
    assert set(out) == {"loss", "loss_pos", "loss_atom_types", "loss_charges", "loss_bonds"}
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in task.net.out_bonds.parameters())


def test_self_conditioned_training_and_sampling_run():
    from hydra.utils import instantiate

    from molgen.config import compose

    t = instantiate(compose("train", SMALL + ["model.self_condition=true", "task.module.self_condition_prob=1.0"]).task.module)
    loss = t.diffusion_loss(t.unpack(Batch.from_data_list([_data(s) for s in SMILES])))["loss"]
    assert torch.isfinite(loss)
    assert len(t.generate([5, 6], steps=3, generator=torch.Generator().manual_seed(0))) == 2


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
def test_sampler_step_is_e3_equivariant(task, reflect):
    p, net = task.process, task.net.double()
    try:
        x = p.prior([6, 5], torch.Generator().manual_seed(0))
        x = x.replace(pos=x.pos.double())
        rot = random_rotation(torch.Generator().manual_seed(1), reflect=reflect)
        t = torch.full((2,), 0.6, dtype=torch.float64)

        def step(state):
            pred = task._net_call(net, state, t, None)
            return p.step(state, pred, 0.6, 0.5, torch.Generator().manual_seed(2))

        a, b = step(x), step(x.replace(pos=x.pos @ rot.T))
        torch.testing.assert_close(b.pos, a.pos @ rot.T)
        assert torch.equal(a.atom_types, b.atom_types) and torch.equal(a.bond_types, b.bond_types)
    finally:
        task.net.float()


def test_generate_gives_bond_graphs_with_the_requested_sizes(task):
    out = task.generate([9, 12], steps=3, generator=torch.Generator().manual_seed(0))
    assert [len(g.elements) for g, _ in out] == [9, 12] and all(ok for _, ok in out)
    for g, _ in out:
        assert set(g.elements) <= set(ELEMENTS) and set(g.charges.tolist()) <= set(CHARGES)
        assert (g.bonds[:, 0] < g.bonds[:, 1]).all() and (g.bonds[:, 2] > 0).all()
    metrics = task.validation_samples(Batch.from_data_list([_data("CCO")]), torch.Generator().manual_seed(0))
    assert set(metrics) == {"mol_stable", "atom_stable", "valid", "connected", "edm_mol_stable"}


def test_molgen_sample_writes_the_predicted_bonds(tmp_path):
    from molgen.commands.sample import run
    from molgen.config import compose_run

    ckpt = write_untrained_checkpoint(tmp_path / "bonds.pt", SMALL)
    # give it an atom-count histogram as training would
    blob = torch.load(ckpt, weights_only=True)
    blob["extras"]["atom_counts"] = {"n": [7, 9], "count": [1, 1]}
    torch.save(blob, ckpt)
    out = tmp_path / "out"
    cfg = compose_run("sample", ["task=molecule", f"ckpt={ckpt}", "n_samples=3", "steps=3", f"outdir={out}"], out)
    table = run(cfg)
    assert len(table) == 3 and {"mol_stable", "edm_mol_stable", "connected"} <= set(table.columns)
    mols = [m for m in Chem.SDMolSupplier(str(out / "molecules.sdf"), sanitize=False, removeHs=False)]
    assert len(mols) == 3
    assert sum(m.GetNumBonds() for m in mols) > 0


def test_drug_like_pretraining_config_trains_and_samples_heavy_atom_molecules():
    from hydra.utils import instantiate

    from molgen.config import compose
    from molgen.metrics.bond_stability import check_graph

    cfg = compose("train", ["experiment=ligand_pretrain_cpu", "model.hidden=16", "model.edge_dim=8",
                            "model.n_layers=1", "model.context_layers=1"])
    t = instantiate(cfg.task.module)
    assert t.net.encoder is not None, "the pocket path is built for the pocket stage"
    elements = list(cfg.task.elements)

    def heavy(smiles: str) -> Data:
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        AllChem.EmbedMolecule(mol, randomSeed=1)
        g = graph_from_mol(Chem.RemoveHs(mol))
        pos = torch.tensor(g.pos)
        return Data(pos=pos - pos.mean(0), atom_types=torch.tensor([elements.index(e) for e in g.elements]),
                    charges=torch.tensor(g.charges) + 1, bond_index=torch.tensor(g.bonds[:, :2]).T.contiguous(),
                    bond_types=torch.tensor(g.bonds[:, 2]), num_nodes=len(g.elements))

    batch = Batch.from_data_list([heavy(s) for s in ["CC(=O)Nc1ccc(Cl)cc1", "OCCN1CCOCC1"]])
    assert torch.isfinite(t.diffusion_loss(t.unpack(batch))["loss"])
    graph, ok = t.generate([8], steps=2, generator=torch.Generator().manual_seed(0))[0]
    assert ok and graph.implicit_hs and set(graph.elements) <= set(elements)
    check_graph(graph)  # decodes with implicit hydrogens


def test_heun_sampler_runs_and_costs_two_evaluations_per_step(task):
    from molgen.diffusion.samplers import HeunSampler

    calls = []
    hook = task.sampling_net.register_forward_hook(lambda *a: calls.append(1))
    try:
        out = task.generate([6], steps=3, sampler=HeunSampler(), generator=torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    assert out[0][1] and len(calls) == 3 + 2  # two evaluations for each step but the last


def test_bonds_from_distances_is_the_cross_check_option(tmp_path):
    from molgen.commands.sample import run
    from molgen.config import compose_run
    from molgen.errors import MolgenInputError
    from molgen.sampling import SamplingJob, run_molecule_sampling

    ckpt = write_untrained_checkpoint(tmp_path / "bonds.pt", SMALL)
    blob = torch.load(ckpt, weights_only=True)
    blob["extras"]["atom_counts"] = {"n": [7], "count": [1]}
    torch.save(blob, ckpt)
    out = tmp_path / "out"
    cfg = compose_run("sample", ["task=molecule", f"ckpt={ckpt}", "n_samples=2", "steps=2", "bonds=distances",
                                 f"outdir={out}"], out)
    table = run(cfg)
    assert "edm_mol_stable" not in table and {"mol_stable", "valid"} <= set(table.columns)
    with pytest.raises(MolgenInputError, match="bonds="):
        run_molecule_sampling(None, SamplingJob(outdir=tmp_path / "x"), bonds="guess")


def test_heavy_atom_molecules_get_no_edm_verdict(tmp_path):
    """EDM's distance check counts explicit hydrogens: a heavy-atom model's summary says n/a."""
    from molgen.cli import main

    ckpt = write_untrained_checkpoint(tmp_path / "pretrain.pt", ["experiment=ligand_pretrain_cpu", "model.hidden=16",
                                                                  "model.edge_dim=8", "model.n_layers=2"])
    out = tmp_path / "out"
    main(["sample", "task=molecule", f"ckpt={ckpt}", "n_samples=2", "steps=2", "n_atoms=[5,6]", f"outdir={out}"])
    assert "n/a (hydrogens implicit)" in (out / "summary.md").read_text()

"""Featurization, ComplexData batching and unbatching, pocket-only graphs, CenterOnPocket."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from molgen.data.featurize import (
    FOLLOW_BATCH,
    ComplexData,
    complex_from_dict,
    complex_to_dict,
    featurize_ligand,
    featurize_pocket,
    make_complex,
    make_pocket_complex,
    pocket_feature_dim,
    unbatch_ligands,
)
from molgen.data.transforms import CenterOnPocket
from molgen.data.vocab import ElementVocab
from molgen.errors import MolgenInputError
from molgen.io import LigandRecord


def test_featurize_ligand(demo_records) -> None:
    ligand, _, _ = demo_records
    out = featurize_ligand(ligand, ElementVocab())
    assert out["ligand_pos"].dtype == torch.float32 and out["ligand_pos"].shape == (25, 3)
    assert out["ligand_types"].dtype == torch.long
    assert ElementVocab().decode(out["ligand_types"].numpy()) == ligand.element.tolist()


def test_featurize_ligand_drops_hydrogens_and_rejects_unknown_elements() -> None:
    record = LigandRecord(pos=np.zeros((3, 3)), element=["C", "H", "Cl"], name="x", path="x.sdf")
    assert featurize_ligand(record, ElementVocab())["ligand_types"].tolist() == [0, 6]
    boron = LigandRecord(pos=np.zeros((2, 3)), element=["C", "B"], path="boron.sdf")
    message = r"boron\.sdf: element 'B' is not in the ligand element vocabulary \(C, N"
    with pytest.raises(MolgenInputError, match=message):
        featurize_ligand(boron, ElementVocab())
    with pytest.raises(MolgenInputError, match="no heavy atoms"):
        featurize_ligand(LigandRecord(pos=np.zeros((1, 3)), element=["H"], path="h.sdf"), ElementVocab())


def test_featurize_pocket_full(demo_records) -> None:
    _, pocket, _ = demo_records
    out = featurize_pocket(pocket, "full")
    feat = out["pocket_feat"]
    assert feat.shape == (pocket.n_atoms, pocket_feature_dim("full")) == (401, 27)
    assert torch.equal(feat[:, :5].sum(1), torch.ones(401))  # one element class each
    assert torch.equal(feat[:, 5:26].sum(1), torch.ones(401))  # one residue class each
    assert feat[:, 26].sum().item() == pocket.is_backbone.sum()
    np.testing.assert_array_equal(out["pocket_pos"].numpy(), pocket.pos)


def test_featurize_pocket_ca(demo_records) -> None:
    _, pocket, _ = demo_records
    out = featurize_pocket(pocket, "ca")
    assert out["pocket_pos"].shape == (pocket.n_residues, 3)
    assert pocket_feature_dim("ca") == 21
    assert out["pocket_feat"].shape == (pocket.n_residues, 21)
    np.testing.assert_allclose(out["pocket_pos"].numpy(), pocket.pos[pocket.atom_name == "CA"])
    # a residue without CA sits at the mean of its atoms
    no_ca = pocket.select(~((pocket.residue_index() == 0) & (pocket.atom_name == "CA")))
    first = no_ca.residue_index() == 0
    centroid = no_ca.pos[first].mean(0)
    np.testing.assert_allclose(featurize_pocket(no_ca, "ca")["pocket_pos"][0].numpy(), centroid, rtol=1e-5)
    with pytest.raises(MolgenInputError, match="pocket_mode must be one of full, ca"):
        featurize_pocket(pocket, "atoms")


def test_batch_unbatch_round_trip(demo_records) -> None:
    ligand, pocket10, cut = demo_records
    graphs = [
        make_complex(ligand, pocket10, name="a"),
        make_complex(ligand.heavy_atoms(), cut, name="b"),
        make_pocket_complex(cut, n_ligand_atoms=7, name="c"),
    ]
    graphs[1].ligand_pos = graphs[1].ligand_pos[:10]
    graphs[1].ligand_types = graphs[1].ligand_types[:10]
    batch = next(iter(DataLoader(graphs, batch_size=3, follow_batch=FOLLOW_BATCH)))
    assert batch.num_graphs == 3
    assert batch.ligand_pos_batch.tolist() == [0] * 25 + [1] * 10 + [2] * 7
    assert torch.equal(batch.pocket_pos_batch.bincount(), torch.tensor([401, cut.n_atoms, cut.n_atoms]))
    parts = unbatch_ligands(batch)
    assert [p.name for p in parts] == ["a", "b", "c"]
    for part, graph in zip(parts, graphs):
        assert torch.equal(part.pos, graph.ligand_pos) and torch.equal(part.types, graph.ligand_types)
    sampled = torch.randn(42, 3)
    assert torch.equal(unbatch_ligands(batch, pos=sampled)[2].pos, sampled[35:])
    single = unbatch_ligands(graphs[0])
    assert len(single) == 1 and torch.equal(single[0].pos, graphs[0].ligand_pos)


def test_pocket_only_complex(demo_records) -> None:
    _, _, cut = demo_records
    empty = make_pocket_complex(cut, pocket_mode="ca")
    assert empty.ligand_pos.shape == (0, 3) and empty.ligand_types.shape == (0,)
    assert empty.pocket_feat.shape == (cut.n_residues, 21) and empty.smiles == ""
    batch = next(iter(DataLoader([empty, empty], batch_size=2, follow_batch=FOLLOW_BATCH)))
    assert batch.ligand_pos_batch.numel() == 0 and batch.pocket_pos_batch.numel() == 2 * cut.n_residues
    assert [p.pos.shape[0] for p in unbatch_ligands(batch)] == [0, 0]


def test_dict_round_trip(demo_complex: ComplexData) -> None:
    back = complex_from_dict(complex_to_dict(demo_complex))
    assert isinstance(back, ComplexData)
    for key in ("ligand_pos", "ligand_types", "pocket_pos", "pocket_feat"):
        assert torch.equal(back[key], demo_complex[key])
    assert back.name == "demo" and back.smiles == demo_complex.smiles != ""
    assert back.num_nodes == 25 + 401


def test_center_on_pocket(demo_complex: ComplexData) -> None:
    centred = CenterOnPocket()(demo_complex)
    assert centred.center.shape == (1, 3)
    assert torch.allclose(centred.pocket_pos.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(centred.ligand_pos + centred.center, demo_complex.ligand_pos, atol=1e-4)
    assert "center" not in demo_complex  # input untouched
    twice = CenterOnPocket()(centred)
    assert torch.allclose(twice.center, centred.center, atol=1e-4)
    batch = next(iter(DataLoader([centred, centred], batch_size=2, follow_batch=FOLLOW_BATCH)))
    assert batch.center.shape == (2, 3)
    back = unbatch_ligands(batch, to_receptor_frame=True)
    assert torch.allclose(back[1].pos, demo_complex.ligand_pos, atol=1e-4)

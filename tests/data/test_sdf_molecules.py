"""Molecules with bonds from SD files: reading, dropping with counts, splits, items, marginals."""

from __future__ import annotations

import gzip

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from molgen.chem.bond_graph import CHARGES, BondGraph, mol_from_graph
from molgen.data.datasets.sdf_molecules import SDFMoleculeDataset
from molgen.data.molecule_datamodule import SDFMoleculeDataModule
from molgen.errors import MolgenInputError

ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br")
SMILES = ["c1ccccc1O", "CC(=O)Nc1ccc(Cl)cc1", "CCN(CC)CC", "O=C(O)c1ccncc1", "CS(=O)(=O)N", "C[N+](C)(C)C",
          "CCP(=O)(O)O", "CCBr"]  # P is outside ELEMENTS: dropped and counted


def _write(path, smiles, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt") as fh:
        w = Chem.SDWriter(fh)
        for s in smiles:
            m = Chem.AddHs(Chem.MolFromSmiles(s))
            AllChem.EmbedMolecule(m, randomSeed=0)
            w.write(Chem.RemoveHs(m))
        w.close()
    return path


@pytest.fixture()
def shards(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    _write(folder / "a_000.sdf.gz", SMILES[:4], gz=True)
    _write(folder / "a_001.sdf", SMILES[4:])
    return folder


def test_reads_a_folder_of_shards_and_counts_what_it_drops(shards, tmp_path):
    ds = SDFMoleculeDataset(shards, "all", elements=ELEMENTS, cache_dir=tmp_path / "cache")
    assert len(ds) == 7 and ds.dropped["element"] == 1 and ds.n_dropped == 1
    item = ds[1]
    assert item.pos.shape == (11, 3) and int(item.bond_index.max()) < 11
    assert (item.bond_types > 0).all() and not (item.bond_types == 4).any()  # kekulized
    # the item decodes back to the molecule, hydrogens implicit
    graph = BondGraph([ELEMENTS[i] for i in item.atom_types.tolist()], [CHARGES[i] for i in item.charges.tolist()],
                      torch.cat([item.bond_index.T, item.bond_types[:, None]], 1).numpy(), item.pos.numpy(),
                      implicit_hs=True)
    mol, err = mol_from_graph(graph)
    assert err is None and Chem.MolToSmiles(mol) == Chem.MolToSmiles(Chem.MolFromSmiles(SMILES[1]))
    charged = ds[5]
    assert CHARGES[int(charged.charges.max())] == 1
    # cached: a second dataset reads the cache file
    again = SDFMoleculeDataset(shards, "all", elements=ELEMENTS, cache_dir=tmp_path / "cache")
    assert again.cache_path == ds.cache_path and len(again) == 7


def test_splits_are_disjoint_and_cover_everything(shards, tmp_path):
    parts = {s: SDFMoleculeDataset(shards, s, elements=ELEMENTS, split_sizes=(4, 2), cache_dir=tmp_path / "c").indices
             for s in ("train", "val", "test")}
    assert [len(p) for p in parts.values()] == [4, 2, 1]
    assert sorted(sum((p.tolist() for p in parts.values()), [])) == list(range(7))


def test_marginals_and_histogram(shards, tmp_path):
    ds = SDFMoleculeDataset(shards, "all", elements=ELEMENTS, cache_dir=tmp_path / "cache")
    m = ds.marginals()
    assert abs(sum(m["bond_types"]) - 1) < 1e-9 and m["bond_types"][0] > 0.5 and m["bond_types"][4] == 0
    assert m["atom_types"][0] > 0.5 and sum(ds.atom_count_histogram().values()) == 7


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(MolgenInputError, match="no such file"):
        SDFMoleculeDataset(tmp_path / "missing.sdf", elements=ELEMENTS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MolgenInputError, match="no .sdf"):
        SDFMoleculeDataset(tmp_path / "empty", elements=ELEMENTS)
    flat = tmp_path / "flat.sdf"
    m = Chem.MolFromSmiles("CCO")
    AllChem.Compute2DCoords(m)
    Chem.MolToMolFile(m, str(flat))
    with pytest.raises(MolgenInputError, match="3D"):
        SDFMoleculeDataset(flat, elements=ELEMENTS, cache_dir=tmp_path / "c")


def test_datamodule_batches_molecules_with_bonds(shards, tmp_path):
    dm = SDFMoleculeDataModule(shards, elements=ELEMENTS, split_sizes=(5, 1), cache_dir=tmp_path / "c", batch_size=3)
    batch = next(iter(dm.train_dataloader()))
    assert batch.num_graphs == 3 and batch.bond_index.max() < batch.num_nodes
    for g in range(3):  # centred per molecule
        assert batch.pos[batch.batch == g].mean(0).abs().max() < 1e-5

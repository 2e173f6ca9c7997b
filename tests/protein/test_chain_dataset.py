"""ChainDataset on a few real PoseBusters / CrossDocked files: filters, cache, crops, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

import molgen.data.datasets.chains as chains_module
from molgen.data.datasets.chains import ChainDataset, cache_chains, expand_files, training_chain_files
from molgen.errors import MolgenInputError
from molgen.io.chains import clean_chains, read_chains


@pytest.fixture(scope="module")
def few_files(shared_data: Path) -> dict[str, list[Path]]:
    files = training_chain_files(shared_data)
    if not files["posebusters"] or not files["crossdocked"]:
        pytest.skip(f"{shared_data}: PoseBusters / CrossDocked structures absent")
    return {"posebusters": files["posebusters"][:3], "crossdocked": files["crossdocked"][:2]}


def test_filtering_matches_reader(few_files: dict[str, list[Path]], tmp_path: Path) -> None:
    ds = ChainDataset(few_files, cache_dir=tmp_path, crop_length=None, center=False)
    stats = ds.statistics()
    expected = []
    for source, paths in few_files.items():
        records = [r for p in paths for r in read_chains(p)]
        segments = clean_chains(records, min_length=40)
        assert stats[source]["files"] == len(paths)
        assert stats[source]["chains"] == len(records)
        assert stats[source]["residues"] == sum(len(r) for r in records)
        assert stats[source]["segments"] == len(segments)
        assert stats[source]["segment_residues"] == sum(len(s) for s in segments)
        expected += segments
    assert len(ds) == len(expected) and (ds.segment_lengths >= 40).all()
    item = ds[0]
    np.testing.assert_array_equal(item.backbone.numpy(), expected[0].backbone)
    assert ds.record(0).res_ids.tolist() == expected[0].res_ids.tolist()
    assert not torch.isnan(torch.cat([ds[i].backbone for i in range(len(ds))])).any()
    assert not list(tmp_path.glob(".*tmp"))  # atomic cache write left nothing behind


def test_cache_is_reused(few_files: dict[str, list[Path]], tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = chains_module._process
    monkeypatch.setattr(chains_module, "_process", lambda *a: calls.append(1) or real(*a))
    path = cache_chains(few_files, cache_dir=tmp_path)
    assert cache_chains(few_files, cache_dir=tmp_path) == path and len(calls) == 1
    assert cache_chains(few_files, cache_dir=tmp_path, min_length=41) != path and len(calls) == 2


def test_crops_items_and_batches(few_files: dict[str, list[Path]], tmp_path: Path) -> None:
    ds = ChainDataset(few_files, cache_dir=tmp_path, crop_length=(50, 80), seed=3)
    long = int(np.argmax(ds.segment_lengths))
    assert ds.segment_lengths[long] > 80
    a, b = ds[long], ds[long]
    assert 50 <= a.num_nodes <= 80 and a.name == b.name and torch.equal(a.backbone, b.backbone)
    names = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        names.add(ds[long].name)
    assert len(names) > 1  # crops move between epochs
    ds.set_epoch(0)
    assert ds[long].name == a.name
    assert a.backbone.shape == (a.num_nodes, 4, 3) and a.backbone.dtype == torch.float32
    torch.testing.assert_close(a.pos, a.backbone[:, 1])
    torch.testing.assert_close(a.pos.mean(0), torch.zeros(3), atol=1e-4, rtol=0)
    assert torch.equal(a.residue_index, torch.arange(a.num_nodes))
    rot = a.rotmats
    torch.testing.assert_close(rot.transpose(-1, -2) @ rot, torch.eye(3).expand_as(rot), atol=1e-5, rtol=0)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch.backbone.shape[0] == batch.pos.shape[0] == batch.batch.shape[0] and len(batch.name) == 3
    assert (ds.lengths <= 80).all()


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match="matches no file"):
        expand_files([str(tmp_path / "*.pdb")])
    with pytest.raises(MolgenInputError, match="crop_length"):
        ChainDataset([tmp_path / "x.pdb"], cache_dir=tmp_path, crop_length=(80, 50))


def test_held_out_identity_filter(few_files: dict[str, list[Path]], tmp_path: Path) -> None:
    """A pool holding a held-out chain (and a file of it) loses exactly the segments >= 40 %
    identical to it; the held-out files take part in the cache key."""
    from molgen.protein.sequence import max_identity, sequence_identity

    held = few_files["posebusters"][0]
    full = ChainDataset(few_files, cache_dir=tmp_path, crop_length=None)
    filtered = ChainDataset(few_files, cache_dir=tmp_path, crop_length=None, held_out=str(held))
    assert filtered.cache_path != full.cache_path
    held_seqs = [r.seq for r in read_chains(held)]
    seqs = [full.record(i).seq for i in range(len(full))]
    similar = [s for s in seqs if max_identity(s, held_seqs) >= 0.4]
    assert similar and len(filtered) == len(full) - len(similar)
    assert sum(v["held_out_similar"] for v in filtered.statistics().values()) == len(similar)
    assert all(max_identity(filtered.record(i).seq, held_seqs) < 0.4 for i in range(len(filtered)))
    assert sequence_identity("ACDEFGHIKLMN", "DEFGHIK") == 1.0  # over the shorter chain
    assert sequence_identity("ACDEFGHIKL", "ACDEFGHIKW") == pytest.approx(0.9)
    assert sequence_identity("", "ACD") == 0.0 and max_identity("ACD", []) == 0.0

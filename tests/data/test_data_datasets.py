"""ComplexDataset over the CrossDocked and PoseBusters layouts: content, caching, skipping."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from molgen.data.datasets import ComplexDataset, crossdocked_sources, posebusters_sources
from molgen.data.transforms import CenterOnPocket
from molgen.errors import MolgenInputError


def test_posebusters_layout_and_cache(posebusters_mini: Path, tmp_path: Path) -> None:
    dataset_cache = tmp_path / "cache"
    first = ComplexDataset(posebusters_mini, "posebusters", cache_dir=dataset_cache)
    assert len(first) == 20 and not first.skipped
    assert first.cache_path is not None and first.cache_path.is_file()
    assert first.groups[0] == first.names[0].split("_")[0] == "5sd5"
    item = first[0]
    assert item.ligand_pos.dtype == torch.float32 and item.pocket_feat.shape[1] == 27
    assert item.smiles == ""  # PDB HETATM records carry no bond orders
    centre = CenterOnPocket()
    second = ComplexDataset(posebusters_mini, "posebusters", cache_dir=dataset_cache, transform=centre)
    assert second.from_cache and not first.from_cache
    assert second.names == first.names and second.size_pairs() == first.size_pairs()
    assert torch.allclose(second[3].ligand_pos + second[3].center, first[3].ligand_pos, atol=1e-4)
    ca = ComplexDataset(posebusters_mini, "posebusters", cache_dir=dataset_cache, pocket_mode="ca", limit=3)
    assert not ca.from_cache and ca.cache_path != first.cache_path  # settings are part of the key
    assert ca[0].pocket_feat.shape[1] == 21 and len(ca) == 3


def test_skipped_complexes_are_counted_and_logged(
    posebusters_mini: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        ds = ComplexDataset(posebusters_mini, "posebusters", vocab=["C", "N", "O"], limit=6)
    assert len(ds) + len(ds.skipped) == 6 and ds.skipped
    name, reason = ds.skipped[0]
    assert "is not in the ligand element vocabulary (C, N, O)" in reason and name in reason
    assert f"skipping complex {name}" in caplog.text
    assert f"{len(ds.skipped)} skipped (element not in vocabulary: {len(ds.skipped)})" in caplog.text
    with pytest.raises(MolgenInputError, match="is not in the ligand element vocabulary"):
        ComplexDataset(posebusters_mini, "posebusters", vocab=["C", "N", "O"], limit=6, skip_errors=False)


def test_crossdocked_layout_on_demo(demo_dir: Path) -> None:
    ds = ComplexDataset(demo_dir, "crossdocked")
    assert ds.names == ["SIR3_HUMAN_117_398_0/5d7n_D_rec_4jt9_1ns_lig_tt_min_0"]
    assert ds.groups == ["SIR3_HUMAN_117_398_0"]
    assert ds.size_pairs() == [(401, 25)]  # the supplied pocket10 file, as is
    assert ds.smiles() == ["CS(=O)(=O)NCCC1CCN(c2ncnc3cc(C(N)=O)sc23)CC1"]
    cut = ComplexDataset(demo_dir, "crossdocked", pocket_source="receptor")
    assert cut.size_pairs()[0][0] > 401  # molgen's any-atom 10 A rule keeps more residues


def test_crossdocked_shared_sources(shared_data: Path) -> None:
    root = shared_data / "crossdocked_test"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    sources = crossdocked_sources(root)
    assert len(sources) == 100 and len({s.group for s in sources}) == 93
    assert all(s.pocket.is_file() for s in sources)
    assert all(s.pocket.is_file() for s in crossdocked_sources(root, pocket_source="receptor"))
    assert sources[0].name == "BSD_ASPTE_1_130_0/2z3h_A_rec_1wn6_bst_lig_tt_docked_3"
    ds = ComplexDataset(root, "crossdocked", limit=3)
    assert len(ds) == 3 and all(s for s in ds.smiles())


def test_posebusters_shared_sources(shared_data: Path) -> None:
    root = shared_data / "posebusters_308"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    assert len(posebusters_sources(root)) == 308
    monomers = posebusters_sources(root, "monomer_subset.txt")
    assert len(monomers) == 134 and monomers[0].ligand_res_name == "ZRY"


def test_layout_errors(tmp_path: Path, demo_dir: Path) -> None:
    with pytest.raises(MolgenInputError, match="layout must be one of crossdocked, posebusters"):
        ComplexDataset(demo_dir, "pdbbind")
    with pytest.raises(MolgenInputError, match="dataset folder not found"):
        ComplexDataset(tmp_path / "missing", "posebusters")
    with pytest.raises(MolgenInputError, match=r"no <pdbid>_<CCD>\.pdb\(\.gz\) structure files found"):
        ComplexDataset(tmp_path, "posebusters")
    with pytest.raises(MolgenInputError, match="no ligand SD files found"):
        ComplexDataset(tmp_path, "crossdocked")
    with pytest.raises(MolgenInputError, match=r"other\.txt: index file not found"):
        ComplexDataset(demo_dir, "crossdocked", index_file="other.txt")

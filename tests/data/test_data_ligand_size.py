"""p(n_ligand | pocket size): fitting, conditional sampling, serialisation."""

from __future__ import annotations

import json

import pytest
import torch

from molgen.data.ligand_size import LigandSizeModel, complex_size_pairs, fit_ligand_size_model
from molgen.errors import MolgenInputError


def _pairs() -> list[tuple[int, int]]:
    small = [(100 + i, 10 + i % 3) for i in range(50)]  # pockets 100-149: ligands 10-12
    large = [(500 + i, 40 + i % 5) for i in range(50)]  # pockets 500-549: ligands 40-44
    return small + large


def test_sampling_follows_pocket_size() -> None:
    model = fit_ligand_size_model(_pairs(), n_bins=4)
    assert model.n_bins == 4
    gen = torch.Generator().manual_seed(0)
    assert set(model.sample(120, gen, n=200)) <= {10, 11, 12}
    assert set(model.sample(530, gen, n=200)) <= {40, 41, 42, 43, 44}
    assert set(model.sample(5, gen, n=50)) <= {10, 11, 12}  # below the range: first bin
    assert set(model.sample(5000, gen, n=50)) <= set(range(40, 45))  # above: last bin
    assert isinstance(model.sample(120, gen), int)
    assert abs(sum(model.distribution(530).values()) - 1.0) < 1e-9


def test_sampling_is_reproducible() -> None:
    model = fit_ligand_size_model(_pairs())
    a = model.sample(300, torch.Generator().manual_seed(3), n=20)
    b = model.sample(300, torch.Generator().manual_seed(3), n=20)
    assert a == b


def test_dict_round_trip_is_json_friendly() -> None:
    model = fit_ligand_size_model(_pairs(), meta={"pocket_mode": "full"})
    state = json.loads(json.dumps(model.to_dict()))
    back = LigandSizeModel.from_dict(state)
    assert back == model and back.meta == {"pocket_mode": "full"}


def test_few_pairs_and_errors() -> None:
    model = fit_ligand_size_model([(300, 20), (310, 22)], n_bins=10)
    assert model.n_bins == 1 and model.sample(1) in (20, 22)
    with pytest.raises(MolgenInputError, match="no \\(n_pocket, n_ligand\\) pairs"):
        fit_ligand_size_model([])
    with pytest.raises(MolgenInputError, match="must be positive"):
        fit_ligand_size_model([(300, 0)])


def test_complex_size_pairs_from_graphs(demo_complex) -> None:
    assert complex_size_pairs([demo_complex, demo_complex]) == [(401, 25), (401, 25)]

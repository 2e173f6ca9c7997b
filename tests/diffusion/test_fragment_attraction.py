"""Fragment attraction of the clean estimate: the smaller pieces of a molecule move rigidly next to
its largest piece; one-piece molecules stay; E(3)- and permutation-equivariant."""

from __future__ import annotations

import pytest
import torch

from molgen.diffusion.fragment_attraction import FragmentAttraction, pieces
from molgen.diffusion.molecule_flow import MoleculePrediction
from molgen.diffusion.molecule_state import MoleculeState, all_pairs

torch.set_num_threads(1)


def _bonded(pairs: torch.Tensor, bonds: list[tuple[int, int]]) -> torch.Tensor:
    mask = torch.zeros(pairs.shape[1], dtype=torch.bool)
    for a, b in bonds:
        mask |= (pairs[0] == min(a, b)) & (pairs[1] == max(a, b))
    return mask


def _scene(seed: int = 0):
    """Two molecules: a 4-atom chain + a 2-atom piece + a lone atom (molecule 0), and a 3-atom
    chain in one piece (molecule 1); random coordinates."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.tensor([0] * 7 + [1] * 3)
    pairs = all_pairs(batch)
    bonded = _bonded(pairs, [(0, 1), (1, 2), (2, 3), (4, 5), (7, 8), (8, 9)])
    pos = torch.randn(10, 3, generator=g, dtype=torch.float64) * 4.0
    return pos, bonded, pairs, batch


def test_pieces_label_each_component_by_its_lowest_atom():
    pairs = torch.tensor([[0, 1, 4, 3], [1, 2, 5, 6]])
    assert pieces(7, pairs).tolist() == [0, 0, 0, 3, 4, 4, 3]
    assert pieces(3, torch.zeros(2, 0, dtype=torch.long)).tolist() == [0, 1, 2]
    chain = torch.stack([torch.arange(9, 0, -1), torch.arange(8, -1, -1)])  # 9-8, 8-7, ... 1-0
    assert pieces(10, chain).tolist() == [0] * 10


def test_smaller_pieces_move_rigidly_to_bond_distance_of_the_largest():
    pos, bonded, pairs, batch = _scene()
    out = FragmentAttraction(bond_distance=1.5).pull(pos, bonded, pairs, batch)
    torch.testing.assert_close(out[:4], pos[:4])  # the largest piece stays
    torch.testing.assert_close(out[7:], pos[7:])  # a molecule in one piece stays
    torch.testing.assert_close(out[4] - out[5], pos[4] - pos[5])  # the pair moved as one body
    for piece in ([4, 5], [6]):
        d = torch.cdist(out[piece], out[:4])
        assert d.min().item() == pytest.approx(1.5, abs=1e-9)


def test_a_piece_already_within_bond_distance_stays():
    batch = torch.zeros(3, dtype=torch.long)
    pairs = all_pairs(batch)
    pos = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [2.5, 0, 0]], dtype=torch.float64)
    out = FragmentAttraction(bond_distance=1.5).pull(pos, _bonded(pairs, [(0, 1)]), pairs, batch)
    torch.testing.assert_close(out, pos)


def test_equivariant_to_rotation_reflection_translation_and_atom_order():
    pos, bonded, pairs, batch = _scene(3)
    attraction = FragmentAttraction()
    out = attraction.pull(pos, bonded, pairs, batch)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    q = q * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)  # a reflection too
    shift = torch.tensor([3.0, -2.0, 7.0], dtype=torch.float64)
    torch.testing.assert_close(attraction.pull(pos @ q.T + shift, bonded, pairs, batch), out @ q.T + shift)
    # permute the atoms inside each molecule; the bonds follow them
    perm = torch.tensor([6, 2, 4, 0, 5, 1, 3, 9, 7, 8])
    inverse = torch.argsort(perm)
    edges = pairs[:, bonded]
    new_edges = inverse[edges].tolist()
    new_pairs = all_pairs(batch)
    new_bonded = _bonded(new_pairs, list(zip(*new_edges)))
    torch.testing.assert_close(attraction.pull(pos[perm], new_bonded, new_pairs, batch), out[perm])


def test_the_bound_guide_reads_bonds_from_the_logits_between_start_and_stop_time():
    pos, bonded, pairs, batch = _scene(5)
    logits = torch.zeros(pairs.shape[1], 5)
    logits[bonded, 1] = 2.0
    logits[~bonded, 0] = 2.0
    n = len(batch)
    pred = MoleculePrediction(pos, torch.zeros(n, 4), torch.zeros(n, 3), logits)
    state = MoleculeState(pos, batch, batch, torch.zeros(pairs.shape[1], dtype=torch.long), pairs, batch, 2)
    guide = FragmentAttraction(start_time=0.5, stop_time=0.1).bind()
    assert guide(pred, state, 0.8) is pred and guide(pred, state, 0.05) is pred
    out = guide(pred, state, 0.4)
    torch.testing.assert_close(out.x0, FragmentAttraction().pull(pos, bonded, pairs, batch))
    assert out.bond_logits is pred.bond_logits


def test_bad_settings_are_refused_with_their_name():
    with pytest.raises(ValueError, match="bond_distance"):
        FragmentAttraction(bond_distance=0.0)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="start_time"):
            FragmentAttraction(start_time=bad)
    for bad in (-0.1, 0.5, 0.7):
        with pytest.raises(ValueError, match="stop_time"):
            FragmentAttraction(start_time=0.5, stop_time=bad)


def test_join_fragments_gives_the_model_default_on_or_off_and_guides_chain_in_order():
    from types import SimpleNamespace

    from molgen.diffusion.pocket_repulsion import PocketRepulsion
    from molgen.errors import MolgenInputError
    from molgen.sampling_common import describe_guides, fragment_attraction, sampling_guides

    bonds, atoms_only = SimpleNamespace(predicts_bonds=True), SimpleNamespace()
    assert fragment_attraction(bonds, None) == FragmentAttraction()
    assert fragment_attraction(atoms_only, None) is None
    assert fragment_attraction(bonds, "false") is None and fragment_attraction(bonds, True) is not None
    with pytest.raises(MolgenInputError, match="join_fragments=2"):
        fragment_attraction(bonds, 2)
    assert fragment_attraction(bonds, None, fixed_atoms=True) is None  # a fixed fragment: off by default
    with pytest.raises(MolgenInputError, match="not available with fix_fragment= / fix_atoms="):
        fragment_attraction(bonds, True, fixed_atoms=True)
    guides = sampling_guides(bonds)
    assert guides.guides == (FragmentAttraction(), PocketRepulsion())
    start = FragmentAttraction().start_time
    assert dict(describe_guides(guides)) == {"pocket repulsion": "2.8 A", "fragment attraction": f"from t = {start:g}"}
    assert sampling_guides(bonds, 0, False) is None and sampling_guides(atoms_only) is None
    assert dict(describe_guides(None)) == {"pocket repulsion": "off", "fragment attraction": "off"}
    with pytest.raises(MolgenInputError, match="join_fragments: fragment attraction needs a bond-aware"):
        sampling_guides(atoms_only, None, True)


def test_chained_guides_apply_in_order():
    from molgen.diffusion.pocket_repulsion import PocketRepulsion
    from molgen.diffusion.sampling_guides import SamplingGuides

    pos, bonded, pairs, batch = _scene(2)
    logits = torch.where(bonded[:, None], torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    n = len(batch)
    pred = MoleculePrediction(pos, torch.zeros(n, 4), torch.zeros(n, 3), logits)
    state = MoleculeState(pos, batch, batch, torch.zeros(pairs.shape[1], dtype=torch.long), pairs, batch, 2)
    pocket = torch.randn(30, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
    out = SamplingGuides((FragmentAttraction(), PocketRepulsion())).bind(pocket)(pred, state, 0.1)
    pulled = FragmentAttraction().pull(pos, bonded, pairs, batch)
    torch.testing.assert_close(out.x0, PocketRepulsion().push(pulled, pocket, pairs))

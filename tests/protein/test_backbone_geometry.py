"""Residue frames, ideal atom rebuilding, dihedrals and Kabsch on real TS50 backbones."""

from __future__ import annotations

import math

import pytest
import torch

from molgen.io.chains import ChainRecord
from molgen.protein.geometry import (
    IDEAL_BOND_LENGTHS,
    backbone_dihedrals,
    backbone_from_frames,
    dihedral,
    frames_from_backbone,
    ideal_cb,
    kabsch,
    place_atom,
    superpose_rmsd,
)


def _random_rotation(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.linalg.det(q))


@pytest.fixture(scope="module")
def backbones(ts50: list[ChainRecord]) -> list[torch.Tensor]:
    return [torch.as_tensor(r.backbone, dtype=torch.float64) for r in ts50]


def test_frames_are_rotations(backbones: list[torch.Tensor]) -> None:
    rot, trans = frames_from_backbone(backbones[0])
    eye = torch.eye(3, dtype=torch.float64).expand_as(rot)
    torch.testing.assert_close(rot.transpose(-1, -2) @ rot, eye, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(len(rot), dtype=torch.float64))
    torch.testing.assert_close(trans, backbones[0][:, 1])


def test_frames_atoms_frames_round_trip(backbones: list[torch.Tensor]) -> None:
    rot, trans = frames_from_backbone(backbones[1])
    rebuilt = backbone_from_frames(rot, trans)
    rot2, trans2 = frames_from_backbone(rebuilt)
    torch.testing.assert_close(rot2, rot, atol=1e-9, rtol=0)
    torch.testing.assert_close(trans2, trans)
    # batched input gives the same atoms
    torch.testing.assert_close(backbone_from_frames(rot[None], trans[None])[0], rebuilt)


def test_ideal_atoms_match_real_ts50(backbones: list[torch.Tensor]) -> None:
    err = {"N": [], "C": [], "O": []}
    for bb in backbones:
        d = (backbone_from_frames(*frames_from_backbone(bb)) - bb).norm(dim=-1)[:-1]  # last O: no psi
        for k, j in (("N", 0), ("C", 2), ("O", 3)):
            err[k].append(d[:, j])
    rms = {k: torch.cat(v).pow(2).mean().sqrt().item() for k, v in err.items()}
    assert rms["N"] < 0.1 and rms["C"] < 0.05 and rms["O"] < 0.15, rms


def test_explicit_psi_places_o(backbones: list[torch.Tensor]) -> None:
    bb = backbones[2]
    _, psi, _ = backbone_dihedrals(bb)
    psi = torch.nan_to_num(psi)
    built = backbone_from_frames(*frames_from_backbone(bb), psi=psi)
    assert (built[:-1, 3] - bb[:-1, 3]).norm(dim=-1).pow(2).mean().sqrt() < 0.15
    co = (built[:, 3] - built[:, 2]).norm(dim=-1)
    torch.testing.assert_close(co, torch.full_like(co, IDEAL_BOND_LENGTHS["C-O"]))


def test_ideal_cb_matches_empirical_rule(backbones: list[torch.Tensor]) -> None:
    bb = backbones[3]
    b, c = bb[:, 1] - bb[:, 0], bb[:, 2] - bb[:, 1]
    cb = -0.58273431 * torch.cross(b, c, dim=-1) + 0.56802827 * b - 0.54067466 * c + bb[:, 1]
    assert (ideal_cb(bb) - cb).norm(dim=-1).max() < 0.3


def test_dihedrals_and_nerf() -> None:
    a, b, c = torch.tensor([[1.0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=torch.float64)
    for angle in (-2.0, -0.5, 0.3, 3.0):
        d = place_atom(a, b, c, 1.5, math.radians(110.0), angle)
        assert abs(dihedral(a, b, c, d).item() - angle) < 1e-9
        assert abs((d - c).norm().item() - 1.5) < 1e-9


def test_helix_dihedrals(helical_chain: ChainRecord) -> None:
    phi, psi, omega = backbone_dihedrals(torch.as_tensor(helical_chain.backbone, dtype=torch.float64))
    assert phi[0].isnan() and psi[-1].isnan() and omega[-1].isnan()
    assert torch.rad2deg(phi[1:]).median().item() == pytest.approx(-64, abs=8)
    assert torch.rad2deg(psi[:-1]).median().item() == pytest.approx(-41, abs=8)
    assert (torch.rad2deg(omega[:-1]).abs() > 150).float().mean() > 0.95


def test_kabsch(backbones: list[torch.Tensor]) -> None:
    x = backbones[4][:, 1]
    rot = _random_rotation(0)
    y = x @ rot.T + torch.tensor([3.0, -2.0, 1.0], dtype=torch.float64)
    r, t = kabsch(x, y)
    torch.testing.assert_close(x @ r.T + t, y)
    assert superpose_rmsd(x, y).item() < 1e-6
    mirror = x * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    assert superpose_rmsd(x, mirror).item() > 1.0  # rotations only, no reflection

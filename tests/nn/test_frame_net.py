"""FrameNet and the batched ideal-backbone rebuild: SE(3) equivariance, mirror asymmetry,
self-conditioning, chains that do not leak into each other."""

from __future__ import annotations

import pytest
import torch

from molgen.diffusion.com import remove_com
from molgen.diffusion.frame_flow import BackboneFrames
from molgen.diffusion.so3 import uniform_rotations
from molgen.nn.backbone_net import BackboneNet
from molgen.nn.frame_net import FrameNet
from molgen.protein.geometry import backbone_from_frames, chain_backbone_from_frames, frames_from_backbone
from molgen.testing import random_rotation

D = torch.float64


def _frames(lengths=(9, 6), seed=0) -> BackboneFrames:
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    k = torch.arange(batch.shape[0], dtype=D)
    helix = torch.stack([0.23 * torch.cos(1.75 * k), 0.23 * torch.sin(1.75 * k), 0.15 * k], -1)
    trans = remove_com(helix + 0.05 * torch.randn(helix.shape, generator=gen, dtype=D), batch)
    return BackboneFrames(uniform_rotations(batch.shape[0], gen, dtype=D), trans, batch)


def _net(self_condition=True) -> FrameNet:
    torch.manual_seed(0)
    return FrameNet(hidden=16, n_layers=2, knn=4, seq_window=1, self_condition=self_condition).double()


def _move(f: BackboneFrames, q: torch.Tensor, b: torch.Tensor) -> BackboneFrames:
    return BackboneFrames(q @ f.rotmats, f.trans @ q.T + b, f.batch)


@pytest.mark.parametrize("self_condition", [False, True])
def test_frame_net_is_se3_equivariant(self_condition):
    net, x, t = _net(self_condition), _frames(), torch.tensor([0.3, 0.8], dtype=D)
    sc = _frames(seed=1) if self_condition else None
    q, b = random_rotation(torch.Generator().manual_seed(2)), torch.tensor([0.4, -1.0, 2.0], dtype=D)
    out = net(x, t, sc)
    moved = net(_move(x, q, b), t, _move(sc, q, b) if sc is not None else None)
    assert torch.allclose(moved.rotmats, q @ out.rotmats, atol=1e-9)
    assert torch.allclose(moved.trans, out.trans @ q.T + b, atol=1e-9)
    assert torch.allclose(torch.linalg.det(out.rotmats), torch.ones(len(out.batch), dtype=D))


def test_frame_net_tells_mirror_images_apart():
    """The mirror image of the input (atoms reflected, frames rebuilt as proper rotations) does not
    give the mirror image of the output: the network is chirality-aware, by design."""
    net, x, t = _net(False), _frames(), torch.tensor([0.3, 0.8], dtype=D)
    p = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=D))
    atoms = chain_backbone_from_frames(x.rotmats, x.trans * 10, x.batch)
    rot_m, ca_m = frames_from_backbone(atoms @ p)
    out = net(x, t)
    out_m = net(BackboneFrames(rot_m, ca_m / 10, x.batch), t)
    assert (out_m.trans - out.trans @ p).abs().max().item() > 1e-3


def test_self_conditioning_changes_the_output_and_is_refused_when_off():
    net, x, t = _net(True), _frames(), torch.tensor([0.3, 0.8], dtype=D)
    torch.nn.init.normal_(net.trunk.embed_sc_edge.weight)
    assert not torch.allclose(net(x, t).trans, net(x, t, _frames(seed=1)).trans)
    with pytest.raises(ValueError, match="self_condition=False"):
        _net(False)(x, t, x)


def test_backbone_net_without_self_condition_keeps_its_parameters():
    """Old checkpoints (no self-conditioning) load: no new parameters unless asked for."""
    plain = {k for k in BackboneNet(hidden=16, n_layers=1).state_dict()}
    sc = {k for k in BackboneNet(hidden=16, n_layers=1, self_condition=True).state_dict()}
    assert all("sc" not in k for k in plain) and plain < sc


def test_chain_rebuild_matches_single_chains():
    x = _frames((9, 6, 1))
    atoms = chain_backbone_from_frames(x.rotmats, x.trans, x.batch)
    for g in range(3):
        sel = x.batch == g
        single = backbone_from_frames(x.rotmats[sel], x.trans[sel])
        assert torch.allclose(atoms[sel][:, :3], single[:, :3])
        if int(sel.sum()) > 1:
            assert torch.allclose(atoms[sel], single, atol=1e-10)
    rot, ca = frames_from_backbone(atoms)
    assert torch.allclose(rot, x.rotmats, atol=1e-10) and torch.allclose(ca, x.trans)

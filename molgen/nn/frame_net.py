"""A frame denoiser: noisy residue frames in, clean residue frames out.

:class:`FrameNet` wraps the residue-frame trunk :class:`~molgen.nn.backbone_net.BackboneNet`
(``output="position"``): it rebuilds ideal N, CA, C, O from every noisy frame
(:func:`~molgen.protein.geometry.chain_backbone_from_frames`), lets the trunk predict each
residue's clean atoms in its noisy frame, and reads the clean frame off the predicted N, CA, C
by Gram-Schmidt (:func:`~molgen.protein.geometry.frames_from_points`; a proper rotation by
construction). Translations are the predicted CA.

Symmetry (inherited from the trunk): rotating and translating the input frames (``R -> Q R``,
``x -> Q x + b``) moves the output the same way; a mirror image is a different input (the frames
are proper rotations, the rebuilt atoms chiral), so the network can prefer L-amino-acid geometry
and right-handed helices.

Self-conditioning (``self_condition=True``): ``forward(..., self_cond=previous estimate)``; the
estimate's ideal atoms enter the trunk as ``x_sc``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from molgen.diffusion.frame_flow import BackboneFrames
from molgen.nn.backbone_net import ATOMS_PER_RESIDUE, BackboneNet
from molgen.protein.geometry import chain_backbone_from_frames, frames_from_points

__all__ = ["FrameNet"]


class FrameNet(nn.Module):
    """Residue frames at time ``t`` -> clean residue frames (see module docstring).

    Args:
        n_types: width of the trunk's (unused) type channel.
        self_condition: take a previous clean estimate as input.
        length_unit: Angstrom per unit of the translations (the task's ``1 / pos_scale``).
        trunk: the remaining :class:`~molgen.nn.backbone_net.BackboneNet` arguments (``hidden``,
            ``n_layers``, ``knn``, ``seq_window``, ...).
    """

    chiral = True  # SE(3)- but not E(3)-equivariant: tells mirror images apart
    predicts = "frames"

    def __init__(self, n_types: int = 4, self_condition: bool = True, length_unit: float = 10.0,
                 **trunk: Any) -> None:
        super().__init__()
        if trunk.get("output", "position") != "position":
            raise ValueError("FrameNet needs the trunk's output='position'")
        trunk.pop("output", None)
        self.n_types, self.self_condition = int(n_types), bool(self_condition)
        self.length_unit = float(length_unit)
        self.trunk = BackboneNet(n_types=n_types, length_unit=length_unit, output="position",
                                 self_condition=self_condition, **trunk)

    def atoms(self, frames: BackboneFrames) -> Tensor:
        """Ideal N, CA, C, O of ``frames`` as trunk input ``[4R, 3]`` (translation units)."""
        unit = self.length_unit
        bb = chain_backbone_from_frames(frames.rotmats, frames.trans * unit, frames.batch)
        return bb.reshape(-1, 3) / unit

    def forward(self, frames: BackboneFrames, t: Tensor,
                self_cond: BackboneFrames | None = None) -> BackboneFrames:
        """Clean frames estimated from ``frames`` at chain times ``t`` [B]."""
        if self_cond is not None and not self.self_condition:
            raise ValueError("self_cond given to a FrameNet built with self_condition=False")
        pos = self.atoms(frames)
        batch = frames.batch.repeat_interleave(ATOMS_PER_RESIDUE)
        x_sc = self.atoms(self_cond) if self_cond is not None else None
        h = pos.new_zeros(pos.shape[0], self.n_types)
        vec, _ = self.trunk(pos, h, t.to(pos.dtype), batch, x_sc=x_sc)
        clean = (pos + vec).reshape(-1, ATOMS_PER_RESIDUE, 3)
        rot, ca = frames_from_points(clean[:, 0], clean[:, 1], clean[:, 2])
        return BackboneFrames(rot, ca, frames.batch)

"""Flow matching over residue frames (FrameFlow, Yim et al. 2023), and its Euler sampler.

The state is :class:`BackboneFrames`: per residue a rotation (its N-CA-C frame, see
:mod:`molgen.protein.geometry`) and a translation (its CA) in the task's units, plus the chain
index of every residue. Each part has the process that fits it (DESIGN principle 11):

- translations: the linear flow ``x_t = (1 - t) x_0 + t z`` with ``z`` a zero centre-of-mass
  Gaussian of scale ``trans_std`` per chain; the network predicts ``x_0``;
- rotations: the geodesic ``R_t = geodesic(R_0, Q, t)`` from the clean rotation to a rotation
  ``Q`` drawn uniformly from SO(3) (:mod:`molgen.diffusion.so3`).

Time runs from 1 (prior) to 0 (data), as everywhere in molgen. The loss is FrameFlow's: the
squared errors of the predicted clean translations and rotations divided by
``max(t, t_floor)^2`` (the vector-field loss of a linear flow, with FrameFlow's clip); the rotation
error is the squared chordal distance ``|R_hat - R_0|_F^2 / 2`` (~ the squared geodesic angle,
smooth everywhere, unlike a loss through the log map).

:class:`FrameEulerSampler` steps from ``t`` to ``s < t`` given the network's clean estimate:
translations ``x_s = x0_hat + (s / t)(x_t - x0_hat)``; rotations move the fraction ``(t - s) / t``
of the geodesic to ``R0_hat`` (``rot_schedule="linear"``, the training path), or
``min(1, exp_rate (t - s))`` (``"exp"``: FrameFlow's faster rotation schedule at sampling, rotations
settle early and translations follow). The last step (``s = 0``) lands on the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from molgen.diffusion.com import remove_com
from molgen.diffusion.so3 import geodesic, uniform_rotations

__all__ = ["BackboneFrames", "FrameEulerSampler", "FrameFlow", "ROT_SCHEDULES"]

ROT_SCHEDULES = ("linear", "exp")


@dataclass
class BackboneFrames:
    """Residue frames of a batch of chains: ``rotmats`` [R, 3, 3], ``trans`` [R, 3] (task units),
    ``batch`` [R] chain index (sorted)."""

    rotmats: Tensor
    trans: Tensor
    batch: Tensor

    @property
    def n_graphs(self) -> int:
        return int(self.batch.max()) + 1 if self.batch.numel() else 0

    def where(self, mask: Tensor, other: "BackboneFrames") -> "BackboneFrames":
        """Residues in ``mask`` [R] from ``other``, the rest from ``self``."""
        return BackboneFrames(torch.where(mask[:, None, None], other.rotmats, self.rotmats),
                              torch.where(mask[:, None], other.trans, self.trans), self.batch)

    def detached(self) -> "BackboneFrames":
        return BackboneFrames(self.rotmats.detach(), self.trans.detach(), self.batch)


@dataclass(frozen=True)
class FrameFlow:
    """The frame flow (see module docstring).

    Args:
        trans_std: standard deviation of the translation prior (task units; with
            ``pos_scale=0.1`` nm, like FrameFlow's scaled Angstrom).
        t_floor: the loss divides by ``max(t, t_floor)^2``.
        rot_weight, trans_weight: weights of the rotation and translation losses.
        time_min: training times are uniform in ``[time_min, 1]``.
    """

    trans_std: float = 1.0
    t_floor: float = 0.1
    rot_weight: float = 1.0
    trans_weight: float = 1.0
    time_min: float = 0.0

    zero_com = True  # translations live in each chain's zero centre-of-mass subspace

    def sample_time(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` training times, uniform in ``[time_min, 1]`` (CPU)."""
        return self.time_min + (1.0 - self.time_min) * torch.rand(n, generator=generator)

    def prior(self, batch: Tensor, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32) -> BackboneFrames:
        """Uniform rotations and zero-CoM Gaussian translations for residues of chains ``batch``
        (drawn on the CPU from ``generator``, returned on ``batch``'s device)."""
        n, dev = int(batch.shape[0]), batch.device
        rot = uniform_rotations(n, generator, dtype=dtype).to(dev)
        z = torch.randn(n, 3, generator=generator, dtype=dtype).to(dev)
        return BackboneFrames(rot, remove_com(z * self.trans_std, batch), batch)

    def noise(self, clean: BackboneFrames, t: Tensor, generator: torch.Generator | None = None,
              prior: BackboneFrames | None = None) -> BackboneFrames:
        """The interpolant at chain times ``t`` [B] between ``clean`` and ``prior`` (drawn if None)."""
        z = prior if prior is not None else self.prior(clean.batch, generator, clean.trans.dtype)
        tn = t.to(clean.trans)[clean.batch]
        trans = (1.0 - tn[:, None]) * clean.trans + tn[:, None] * z.trans
        return BackboneFrames(geodesic(clean.rotmats, z.rotmats, tn), trans, clean.batch)

    def loss_weight(self, t: Tensor) -> Tensor:
        """``1 / max(t, t_floor)^2`` per time."""
        return t.clamp(min=self.t_floor).square().reciprocal()

    def loss(self, pred: BackboneFrames, clean: BackboneFrames, t: Tensor) -> dict[str, Tensor]:
        """``{"loss", "loss_trans", "loss_rot"}`` of clean estimates ``pred`` at chain times ``t`` [B]."""
        w = self.loss_weight(t.to(clean.trans))[clean.batch]
        trans = (w * (pred.trans - clean.trans).square().sum(-1)).mean()
        rot = (w * 0.5 * (pred.rotmats - clean.rotmats).square().sum((-1, -2))).mean()
        total = self.trans_weight * trans + self.rot_weight * rot
        return {"loss": total, "loss_trans": trans, "loss_rot": rot}


@dataclass(frozen=True)
class FrameEulerSampler:
    """Euler steps of the frame flow from ``t = 1`` to ``0`` (see module docstring).

    Args:
        rot_schedule: ``"linear"`` (the training path) or ``"exp"`` (FrameFlow's faster rotations).
        exp_rate: the rotation speed of the ``"exp"`` schedule (FrameFlow: 10).
    """

    rot_schedule: str = "linear"
    exp_rate: float = 10.0

    needs_noise = False  # deterministic: the only randomness is the prior

    def __post_init__(self) -> None:
        if self.rot_schedule not in ROT_SCHEDULES:
            raise ValueError(f"rot_schedule={self.rot_schedule!r}: choose one of {ROT_SCHEDULES}")

    def timesteps(self, steps: int) -> Tensor:
        """``steps + 1`` times from 1 to 0."""
        if int(steps) < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return torch.linspace(1.0, 0.0, int(steps) + 1)

    def rot_fraction(self, t: float, s: float) -> float:
        """The share of the geodesic from ``R_t`` to ``R0_hat`` covered by the step ``t -> s``."""
        if s <= 0.0:
            return 1.0
        if self.rot_schedule == "exp":
            return min(1.0, self.exp_rate * (t - s))
        return (t - s) / t

    def step(self, x: BackboneFrames, pred: BackboneFrames, t: float | Tensor,
             s: float | Tensor) -> BackboneFrames:
        """Frames at time ``s`` from frames ``x`` at ``t`` and the clean estimate ``pred``."""
        t, s = float(t), float(s)
        ratio = s / t if t > 0 else 0.0
        trans = remove_com(pred.trans + ratio * (x.trans - pred.trans), x.batch)
        rot = geodesic(x.rotmats, pred.rotmats, self.rot_fraction(t, s))
        return BackboneFrames(rot, trans, x.batch)

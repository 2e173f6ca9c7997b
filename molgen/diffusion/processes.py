"""Gaussian noising processes over coordinates and one-hot atom types.

``x_t = alpha(t) x_0 + sigma(t) eps``: :class:`VPProcess` (variance preserving, the network
predicts ``eps``) and :class:`FlowMatchingProcess` (the linear interpolant
``x_t = (1 - t) x_0 + t eps`` of flow matching, the network predicts the velocity ``dx_t/dt``). Coordinates either live in the zero centre-of-mass
subspace of each graph (unconditional molecules: the noise is projected, EDM) or in full R^3
(a ligand in a pocket-centred frame: the pocket fixes the frame, as in TargetDiff). Atom types
are one-hot vectors scaled by ``type_scale`` and noised by the same process (EDM's choice; the
small scale makes types settle later than positions).

No network lives here: the task calls ``add_noise`` in training and a sampler's ``step`` when
generating.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from molgen.diffusion.com import remove_com
from molgen.diffusion.schedules import LinearSchedule, Schedule

__all__ = ["VPProcess", "FlowMatchingProcess"]


def _derivative(f, t: Tensor, h: float = 1e-4) -> Tensor:
    hi, lo = (t + h).clamp(max=1.0), (t - h).clamp(min=0.0)
    return (f(hi) - f(lo)) / (hi - lo)


@dataclass(frozen=True)
class VPProcess:
    """Variance-preserving diffusion with eps-prediction.

    Args:
        schedule: the noise schedule.
        zero_com: coordinate noise projected to zero centre of mass per graph.
        type_scale: one-hot atom types are multiplied by this before noising.
        pos_weight, type_weight: loss weights of the two terms.
        prediction: what the network outputs, ``"eps"`` or ``"velocity"`` (``dx_t/dt``).
    """

    schedule: Schedule
    zero_com: bool = False
    type_scale: float = 0.25
    pos_weight: float = 1.0
    type_weight: float = 1.0
    prediction: str = "eps"

    def __post_init__(self) -> None:
        if self.prediction not in ("eps", "velocity"):
            raise ValueError(f"prediction={self.prediction!r}: allowed values are 'eps', 'velocity'")

    def alpha(self, t: Tensor) -> Tensor:
        return self.schedule.alpha(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self.schedule.sigma(t)

    def d_alpha(self, t: Tensor) -> Tensor:
        """Time derivative of alpha (finite difference, one-sided at the ends of [0, 1])."""
        return _derivative(self.alpha, t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return _derivative(self.sigma, t)

    def velocity(self, x0: Tensor, eps: Tensor, t_node: Tensor) -> Tensor:
        """``dx_t/dt`` along the straight path of a fixed (x0, eps): the deterministic (DDIM) flow."""
        return self.d_alpha(t_node)[:, None] * x0 + self.d_sigma(t_node)[:, None] * eps

    def target(self, x0: Tensor, eps: Tensor, t_node: Tensor) -> Tensor:
        """What the network is trained to output."""
        return eps if self.prediction == "eps" else self.velocity(x0, eps, t_node)

    def split(self, x_t: Tensor, out: Tensor, t_node: Tensor) -> tuple[Tensor, Tensor]:
        """``(x0_hat, eps_hat)`` from the network output at ``x_t``."""
        a, s = self.alpha(t_node)[:, None], self.sigma(t_node)[:, None]
        if self.prediction == "eps":
            return (x_t - s * out) / a, out
        da, ds = self.d_alpha(t_node)[:, None], self.d_sigma(t_node)[:, None]
        det = a * ds - s * da
        return (ds * x_t - s * out) / det, (a * out - da * x_t) / det

    def output_for(self, x_t: Tensor, x0: Tensor, t_node: Tensor) -> Tensor:
        """The network output that :meth:`split` turns into ``x0`` at ``x_t`` (inverse of split)."""
        return self.target(x0, self.eps_from_x0(x_t, x0, t_node), t_node)

    def renoise(self, x_s: Tensor, s: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """A sample of q(x_t | x_s) for ``t > s`` (RePaint's jump back up)."""
        a_ts = self.alpha(t) / self.alpha(s)
        var = (self.sigma(t) ** 2 - a_ts**2 * self.sigma(s) ** 2).clamp(min=0)
        return a_ts * x_s + var.sqrt() * noise

    def encode_types(self, types: Tensor, n_types: int) -> Tensor:
        return F.one_hot(types, n_types).float() * self.type_scale

    def decode_types(self, h: Tensor) -> Tensor:
        return h.argmax(dim=-1)

    def pos_noise(self, like: Tensor, batch: Tensor, generator: torch.Generator | None = None,
                  fixed: Tensor | None = None) -> Tensor:
        """Standard Gaussian noise for coordinates (zero-CoM over free atoms if ``zero_com``).

        ``fixed`` marks atoms that are never noised: their noise is zero.
        """
        eps = torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)
        if fixed is not None:
            eps = eps * (~fixed).to(eps.dtype)[:, None]
        if self.zero_com:
            eps = remove_com(eps, batch, None if fixed is None else ~fixed)
            if fixed is not None:
                eps = eps * (~fixed).to(eps.dtype)[:, None]
        return eps

    def type_noise(self, like: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)

    def add_noise(self, x0: Tensor, eps: Tensor, t_node: Tensor) -> Tensor:
        """``x_t = alpha(t) x_0 + sigma(t) eps`` with ``t_node`` [N] the time of each row."""
        return self.alpha(t_node)[:, None] * x0 + self.sigma(t_node)[:, None] * eps

    def x0_from_eps(self, x_t: Tensor, eps: Tensor, t_node: Tensor) -> Tensor:
        return (x_t - self.sigma(t_node)[:, None] * eps) / self.alpha(t_node)[:, None]

    def eps_from_x0(self, x_t: Tensor, x0: Tensor, t_node: Tensor) -> Tensor:
        return (x_t - self.alpha(t_node)[:, None] * x0) / self.sigma(t_node)[:, None]

    def prior(self, pos_like: Tensor, h_like: Tensor, batch: Tensor,
              generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Samples of the t=1 marginal (standard normal, zero-CoM if configured)."""
        return self.pos_noise(pos_like, batch, generator), self.type_noise(h_like, generator)


@dataclass(frozen=True)
class FlowMatchingProcess(VPProcess):
    """Conditional flow matching with the linear interpolant and a velocity-predicting network.

    Same networks, same samplers: ``ddim`` is then exactly Euler on the learned ODE and ``ode``
    (Heun) its second-order solver.
    """

    schedule: Schedule = LinearSchedule()
    prediction: str = "velocity"

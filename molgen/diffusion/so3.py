"""Rotations in SO(3) as 3x3 matrices: exp / log maps, geodesics, distances, a uniform prior.

Torch only, batched over any leading dimensions ``[..., 3, 3]``; rotation vectors ``[..., 3]``
(axis times angle, radians). :func:`log_map` is stable near the identity (series) and near
angle pi (axis from the symmetric part), where ``R - R^T`` vanishes.

The geodesic from ``r0`` to ``r1`` is ``r0 exp(t log(r0^T r1))``: constant angular speed, and
``angle(r0, geodesic(r0, r1, t)) = t angle(r0, r1)`` for angles below pi.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "exp_map",
    "geodesic",
    "geodesic_distance",
    "hat",
    "log_map",
    "rotation_angle",
    "uniform_rotations",
    "vee",
]

_SMALL = 1e-4  # angle below which exp / log use their Taylor series
_NEAR_PI = 1e-3  # pi - angle below which log uses the symmetric part


def hat(v: Tensor) -> Tensor:
    """The skew-symmetric matrix ``[v]_x`` ``[..., 3, 3]`` of vectors ``v`` ``[..., 3]``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


def vee(m: Tensor) -> Tensor:
    """The vector of the skew-symmetric part of ``m`` ``[..., 3, 3]`` (inverse of :func:`hat`)."""
    return 0.5 * torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                              m[..., 1, 0] - m[..., 0, 1]], dim=-1)


def exp_map(v: Tensor) -> Tensor:
    """Rodrigues: rotation matrices ``[..., 3, 3]`` of rotation vectors ``v`` ``[..., 3]``."""
    theta2 = (v * v).sum(-1)
    theta = theta2.clamp_min(1e-24).sqrt()
    small = theta < _SMALL
    safe = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(safe) / safe)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(safe)) / safe.square())
    k = hat(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand(k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def rotation_angle(r: Tensor) -> Tensor:
    """Angle ``[...]`` in ``[0, pi]`` of rotations ``r`` ``[..., 3, 3]`` (atan2, accurate at 0 and pi)."""
    cos = 0.5 * (r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0)
    sin = vee(r).norm(dim=-1)
    return torch.atan2(sin, cos)


def log_map(r: Tensor) -> Tensor:
    """Rotation vectors ``[..., 3]`` (angle in ``[0, pi]``) of rotation matrices ``[..., 3, 3]``."""
    v = vee(r)  # sin(angle) * axis
    cos = 0.5 * (r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0)
    sin = v.norm(dim=-1)
    angle = torch.atan2(sin, cos)
    small = angle < _SMALL
    safe_sin = torch.where(small, torch.ones_like(sin), sin)
    scale = torch.where(small, 1.0 + angle.square() / 6.0, angle / safe_sin)
    out = scale[..., None] * v
    near_pi = (math.pi - angle) < _NEAR_PI
    if bool(near_pi.any()):  # R ~ 2 a a^T - I: the axis from the column of (R + I) with the largest norm
        b = 0.5 * (r + r.transpose(-1, -2)) + torch.eye(3, dtype=r.dtype, device=r.device)
        col = b.norm(dim=-2).argmax(-1)
        axis = torch.gather(b, -1, col[..., None, None].expand(b.shape[:-1] + (1,)))[..., 0]
        axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        sign = torch.where((axis * v).sum(-1) < 0, -1.0, 1.0).to(r.dtype)
        out = torch.where(near_pi[..., None], (sign * angle)[..., None] * axis, out)
    return out


def geodesic(r0: Tensor, r1: Tensor, t: Tensor | float) -> Tensor:
    """The point at fraction ``t`` (``[...]`` or scalar) of the geodesic from ``r0`` to ``r1``:
    ``r0 exp(t log(r0^T r1))`` (``t = 0``: ``r0``; ``t = 1``: ``r1``)."""
    t = torch.as_tensor(t, dtype=r0.dtype, device=r0.device)
    step = log_map(r0.transpose(-1, -2) @ r1)
    return r0 @ exp_map(t[..., None] * step)


def geodesic_distance(r0: Tensor, r1: Tensor) -> Tensor:
    """Angle ``[...]`` (radians) of the relative rotation ``r0^T r1``."""
    return rotation_angle(r0.transpose(-1, -2) @ r1)


def uniform_rotations(n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None) -> Tensor:
    """``n`` rotations ``[n, 3, 3]`` drawn uniformly (Haar) from SO(3): unit quaternions from a
    normalised 4D Gaussian, drawn on the CPU (``generator`` is a CPU generator)."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    r = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(n, 3, 3)
    return r.to(dtype=dtype, device=device)

"""Backbone geometry in torch: ideal values, residue frames, atom rebuilding, dihedrals, Kabsch.

Conventions (Angstrom, radians unless a name says ``_deg``):

- a backbone is ``[..., L, 4, 3]`` with atoms ``N, CA, C, O``;
- a residue frame is ``(rotmats [..., L, 3, 3], trans [..., L, 3])`` with ``trans = CA`` and the
  rotation's columns ``e1, e2, e3`` built by Gram-Schmidt as in AlphaFold (Alg. 21) / FrameDiff:
  ``e1 = (C - CA)/|C - CA|``, ``e2`` = the part of ``N - CA`` orthogonal to ``e1``, normalised,
  ``e3 = e1 x e2``. Global = ``rotmats @ local + trans``;
- in that frame the ideal atoms sit at :data:`IDEAL_LOCAL_COORDS` (Engh & Huber 1991 bond
  lengths and N-CA-C angle; CB as in AlphaFold's ``rigid_group_atom_positions`` for ALA);
- O is not rigid in the residue frame: it is placed in the peptide plane, trans to N(i+1),
  i.e. at dihedral ``N-CA-C-O = psi + pi`` with ideal C=O length and CA-C-O angle. ``psi`` comes
  from the caller or from the next residue's (rebuilt) N; the last residue copies the psi of the
  one before it (its O direction is undefined by the chain);
- dihedrals: ``phi_i = C(i-1), N(i), CA(i), C(i)``; ``psi_i = N(i), CA(i), C(i), N(i+1)``;
  ``omega_i = CA(i), C(i), N(i+1), CA(i+1)`` (the peptide bond after residue i). Undefined
  ends are NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "IDEAL_BOND_ANGLES_DEG",
    "IDEAL_BOND_LENGTHS",
    "IDEAL_LOCAL_COORDS",
    "backbone_dihedrals",
    "backbone_from_frames",
    "chain_backbone_from_frames",
    "chain_psi",
    "dihedral",
    "frames_from_backbone",
    "frames_from_points",
    "ideal_cb",
    "kabsch",
    "place_atom",
    "superpose_rmsd",
]

#: Engh & Huber (1991) backbone bond lengths, Angstrom.
IDEAL_BOND_LENGTHS: dict[str, float] = {"N-CA": 1.458, "CA-C": 1.525, "C-N": 1.329, "C-O": 1.231}
#: Engh & Huber (1991) backbone bond angles, degrees.
IDEAL_BOND_ANGLES_DEG: dict[str, float] = {
    "N-CA-C": 111.2, "CA-C-N": 116.2, "C-N-CA": 121.7, "CA-C-O": 120.1, "O-C-N": 122.7,
}  # fmt: skip

_NCAC = math.radians(IDEAL_BOND_ANGLES_DEG["N-CA-C"])
#: Ideal atom positions in the residue frame (CA at the origin, C on +x, N in the xy plane).
IDEAL_LOCAL_COORDS: dict[str, tuple[float, float, float]] = {
    "N": (IDEAL_BOND_LENGTHS["N-CA"] * math.cos(_NCAC), IDEAL_BOND_LENGTHS["N-CA"] * math.sin(_NCAC), 0.0),
    "CA": (0.0, 0.0, 0.0),
    "C": (IDEAL_BOND_LENGTHS["CA-C"], 0.0, 0.0),
    "CB": (-0.529, -0.774, -1.205),
}  # fmt: skip


def _normalize(v: Tensor, eps: float = 1e-8) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def frames_from_points(n: Tensor, ca: Tensor, c: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Gram-Schmidt residue frames from N, CA, C ``[..., 3]`` -> ``(rotmats [..., 3, 3], CA)``."""
    e1 = _normalize(c - ca, eps)
    u2 = n - ca
    e2 = _normalize(u2 - (e1 * u2).sum(-1, keepdim=True) * e1, eps)
    e3 = torch.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], dim=-1), ca


def frames_from_backbone(backbone: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Residue frames from a backbone ``[..., L, >=3, 3]`` (N, CA, C first)."""
    return frames_from_points(backbone[..., 0, :], backbone[..., 1, :], backbone[..., 2, :], eps)


def _local(name: str, like: Tensor) -> Tensor:
    return torch.tensor(IDEAL_LOCAL_COORDS[name], dtype=like.dtype, device=like.device)


def _apply(rotmats: Tensor, trans: Tensor, local: Tensor) -> Tensor:
    return torch.einsum("...ij,j->...i", rotmats, local) + trans


def place_atom(
    a: Tensor, b: Tensor, c: Tensor, bond: float | Tensor, angle: float | Tensor, torsion: float | Tensor
) -> Tensor:
    """NeRF: the atom D with ``|CD| = bond``, angle ``B-C-D = angle`` and dihedral
    ``A-B-C-D = torsion`` (radians). Inputs ``[..., 3]``; angle/torsion broadcast as ``[...]``."""
    angle = torch.as_tensor(angle, dtype=a.dtype, device=a.device)
    torsion = torch.as_tensor(torsion, dtype=a.dtype, device=a.device)
    angle, torsion = torch.broadcast_tensors(angle, torsion)
    bc = _normalize(c - b)
    nrm = _normalize(torch.cross(b - a, bc, dim=-1))
    m = torch.stack([bc, torch.cross(nrm, bc, dim=-1), nrm], dim=-1)
    d_local = (
        torch.stack(
            [-torch.cos(angle), torch.sin(angle) * torch.cos(torsion), torch.sin(angle) * torch.sin(torsion)],
            dim=-1,
        )
        * bond
    )
    return c + torch.einsum("...ij,...j->...i", m, d_local)


def dihedral(p0: Tensor, p1: Tensor, p2: Tensor, p3: Tensor) -> Tensor:
    """Dihedral angle ``p0-p1-p2-p3`` in radians, ``(-pi, pi]``, IUPAC sign convention."""
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1n = _normalize(b1)
    v = b0 - (b0 * b1n).sum(-1, keepdim=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdim=True) * b1n
    x = (v * w).sum(-1)
    y = (torch.cross(b1n, v, dim=-1) * w).sum(-1)
    return torch.atan2(y, x)


def backbone_dihedrals(backbone: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(phi, psi, omega)``, each ``[..., L]`` radians, NaN where undefined (see module doc)."""
    n, ca, c = backbone[..., 0, :], backbone[..., 1, :], backbone[..., 2, :]
    nan = torch.full_like(n[..., :1, 0], float("nan"))
    phi = dihedral(c[..., :-1, :], n[..., 1:, :], ca[..., 1:, :], c[..., 1:, :])
    psi = dihedral(n[..., :-1, :], ca[..., :-1, :], c[..., :-1, :], n[..., 1:, :])
    omega = dihedral(ca[..., :-1, :], c[..., :-1, :], n[..., 1:, :], ca[..., 1:, :])
    return torch.cat([nan, phi], -1), torch.cat([psi, nan], -1), torch.cat([omega, nan], -1)


def backbone_from_frames(rotmats: Tensor, trans: Tensor, psi: Tensor | None = None) -> Tensor:
    """Ideal backbone ``[..., L, 4, 3]`` (N, CA, C, O) from frames ``[..., L, 3, 3]``, ``[..., L, 3]``.

    N and C come from :data:`IDEAL_LOCAL_COORDS`; O from ``psi`` (``[..., L]`` radians) if given,
    else from the next residue's rebuilt N (see module docstring).
    """
    n = _apply(rotmats, trans, _local("N", trans))
    c = _apply(rotmats, trans, _local("C", trans))
    ca = trans
    if psi is None:
        if trans.shape[-2] > 1:
            psi = dihedral(n[..., :-1, :], ca[..., :-1, :], c[..., :-1, :], n[..., 1:, :])
            psi = torch.cat([psi, psi[..., -1:]], dim=-1)
        else:
            psi = torch.zeros_like(trans[..., 0])
    o = place_atom(
        n, ca, c, IDEAL_BOND_LENGTHS["C-O"], math.radians(IDEAL_BOND_ANGLES_DEG["CA-C-O"]), psi + math.pi
    )
    return torch.stack([n, ca, c, o], dim=-2)


def chain_psi(n: Tensor, ca: Tensor, c: Tensor, chain: Tensor) -> Tensor:
    """psi ``[R]`` of residues ``[R, 3]`` of several chains laid end to end (``chain`` [R], sorted):
    from the next residue's N within a chain; a chain's last residue copies the psi before it (0
    for a one-residue chain), as :func:`backbone_from_frames` does for one chain."""
    zero = n.new_zeros(1)
    if n.shape[0] < 2:
        return zero.expand(n.shape[0]).clone()
    psi = torch.cat([dihedral(n[:-1], ca[:-1], c[:-1], n[1:]), zero])
    has_next = torch.cat([chain[1:] == chain[:-1], chain.new_zeros(1, dtype=torch.bool)])
    prev_ok = torch.cat([chain.new_zeros(1, dtype=torch.bool), has_next[:-1]])
    prev = torch.cat([zero, psi[:-1]])
    return torch.where(has_next, psi, torch.where(prev_ok, prev, zero))


def chain_backbone_from_frames(rotmats: Tensor, trans: Tensor, chain: Tensor) -> Tensor:
    """:func:`backbone_from_frames` for residues ``[R, 3, 3]``, ``[R, 3]`` of several chains laid
    end to end (``chain`` [R], sorted): O of each chain's last residue never sees the next chain."""
    n = _apply(rotmats, trans, _local("N", trans))
    c = _apply(rotmats, trans, _local("C", trans))
    return backbone_from_frames(rotmats, trans, psi=chain_psi(n, trans, c, chain))


def ideal_cb(backbone: Tensor) -> Tensor:
    """Ideal CB ``[..., L, 3]`` from N, CA, C (AlphaFold's ALA CB in the residue frame)."""
    rotmats, trans = frames_from_backbone(backbone)
    return _apply(rotmats, trans, _local("CB", trans))


def kabsch(mobile: Tensor, target: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Proper rotation ``R [3, 3]`` and translation ``t [3]`` minimising
    ``sum w |mobile @ R.T + t - target|^2`` for point sets ``[N, 3]`` (no reflection)."""
    w = torch.ones_like(mobile[:, 0]) if weights is None else weights.to(mobile)
    w = (w / w.sum())[:, None]
    mu_m, mu_t = (w * mobile).sum(0), (w * target).sum(0)
    h = ((mobile - mu_m) * w).T @ (target - mu_t)
    u, _, vt = torch.linalg.svd(h)
    d = torch.sign(torch.linalg.det(vt.T @ u.T))
    diag = torch.ones(3, dtype=mobile.dtype, device=mobile.device)
    diag[2] = d if d != 0 else 1.0
    rot = vt.T @ torch.diag(diag) @ u.T
    return rot, mu_t - mu_m @ rot.T


def superpose_rmsd(mobile: Tensor, target: Tensor) -> Tensor:
    """RMSD (Angstrom) between point sets ``[N, 3]`` after optimal rigid superposition."""
    rot, t = kabsch(mobile, target)
    return ((mobile @ rot.T + t - target) ** 2).sum(-1).mean().sqrt()

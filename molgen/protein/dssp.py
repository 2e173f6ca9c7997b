"""DSSP-style 3-state secondary structure from backbone atoms only (numpy, no side chains).

A compact reimplementation of Kabsch & Sander (1983), the same reduction as ``pydssp``:

- amide H placed at ``N(i) + (C(i-1) - O(i-1))/|C(i-1) - O(i-1)|`` (1.0 A; residue 0 has none;
  every residue, proline included, is treated as a donor since a backbone has no sequence);
- electrostatic H-bond energy ``E = 0.084 * 332 * (1/r_ON + 1/r_CH - 1/r_OH - 1/r_CN)``
  kcal/mol, an H-bond when ``E < -0.5`` and the CA-CA distance is below 9 A;
- ``H`` (alpha helix): two consecutive 4-turns at i-1 and i mark residues i..i+3;
- ``E`` (strand): residues in a ladder, i.e. two consecutive parallel or antiparallel bridges
  (DSSP's bridge patterns, |i - j| >= 3). Isolated bridges (B), 3-10 and pi helices, turns and
  bends are all ``-`` (loop). Beta bulges are not merged into ladders.
"""

from __future__ import annotations

import numpy as np

__all__ = ["assign_secondary_structure", "hbond_matrix"]


def hbond_matrix(backbone: np.ndarray, *, cutoff: float = -0.5) -> np.ndarray:
    """``bool [L, L]``: entry ``[a, b]`` is True when C=O of residue a accepts an H-bond from
    N-H of residue b (DSSP's ``Hbond(a, b)``). ``backbone`` is ``[L, 4, 3]`` N, CA, C, O."""
    bb = np.asarray(backbone, dtype=np.float64)
    n, ca, c, o = bb[:, 0], bb[:, 1], bb[:, 2], bb[:, 3]
    length = len(bb)
    h = n.copy()
    if length > 1:
        co = c[:-1] - o[:-1]
        h[1:] = n[1:] + co / np.linalg.norm(co, axis=-1, keepdims=True)

    def dist(acc: np.ndarray, don: np.ndarray) -> np.ndarray:
        return np.linalg.norm(acc[:, None, :] - don[None, :, :], axis=-1)

    with np.errstate(divide="ignore", invalid="ignore"):
        energy = 0.084 * 332.0 * (1 / dist(o, n) + 1 / dist(c, h) - 1 / dist(o, h) - 1 / dist(c, n))
    close = dist(ca, ca) < 9.0
    idx = np.arange(length)
    allowed = close & (np.abs(idx[:, None] - idx[None, :]) >= 2)
    allowed[:, 0] = False  # residue 0 has no amide H
    return allowed & (energy < cutoff)


def _shift(m: np.ndarray, di: int, dj: int) -> np.ndarray:
    """``out[i, j] = m[i + di, j + dj]``, False outside the matrix."""
    length = m.shape[0]
    p = np.pad(m, 1)
    return p[1 + di : 1 + di + length, 1 + dj : 1 + dj + length]


def assign_secondary_structure(backbone: np.ndarray) -> np.ndarray:
    """3-state DSSP labels ``<U1 [L]`` in ``{"H", "E", "-"}`` for a backbone ``[L, 4, 3]``."""
    bb = np.asarray(backbone, dtype=np.float64)
    length = len(bb)
    ss = np.full(length, "-", dtype="<U1")
    if length < 5:
        return ss
    hb = hbond_matrix(bb)
    idx = np.arange(length)
    # helices: 4-turn at i means Hbond(i, i+4)
    turn4 = np.zeros(length, dtype=bool)
    turn4[: length - 4] = hb[idx[: length - 4], idx[: length - 4] + 4]
    helix = np.zeros(length, dtype=bool)
    for i in np.flatnonzero(turn4[1:] & turn4[:-1]) + 1:
        helix[i : i + 4] = True
    # bridges
    par = (_shift(hb, -1, 0) & _shift(hb, 0, 1).T) | (_shift(hb, -1, 0).T & _shift(hb, 0, 1))
    anti = (hb & hb.T) | (_shift(hb, -1, 1) & _shift(hb, -1, 1).T)
    far = np.abs(idx[:, None] - idx[None, :]) >= 3
    par &= far
    anti &= far
    # ladders: (i, j) & (i+1, j+1) parallel; (i, j) & (i+1, j-1) antiparallel
    par_l = par & _shift(par, 1, 1)
    anti_l = anti & _shift(anti, 1, -1)
    strand = np.zeros(length, dtype=bool)
    strand |= par_l.any(1) | _shift(par_l, -1, -1).any(1)
    strand |= anti_l.any(1) | _shift(anti_l, -1, 1).any(1)
    ss[strand] = "E"
    ss[helix] = "H"
    return ss

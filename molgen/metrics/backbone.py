"""Model-free quality metrics for protein backbones, the numbers backbone papers report.

Every metric takes a backbone ``[L, 4, 3]`` (N, CA, C, O; Angstrom; numpy or torch) of one chain.
Definitions (keys of :func:`backbone_metrics`):

- ``ca_ca_mean``; ``ca_ca_valid``: share of consecutive CA-CA distances within 3.80 +- 0.10 A;
- ``chain_breaks``: peptide bonds C(i)-N(i+1) longer than 2.0 A;
- ``c_n_valid``: share of peptide bonds C(i)-N(i+1) within 1.33 +- 0.10 A;
- ``bond_<n_ca|ca_c|c_n>_mean`` (A) and ``_dev`` (mean |value - ideal|), and
  ``angle_<n_ca_c|ca_c_n|c_n_ca>_mean`` / ``_dev`` (degrees), ideal = Engh & Huber (1991)
  (:mod:`molgen.protein.geometry`);
- ``clashes``: CA-CA pairs closer than 3.0 A with |i - j| > 2; ``clash_residue_share``: share of
  residues in at least one such pair;
- ``helix`` / ``strand`` / ``loop``: 3-state DSSP fractions (PyDSSP, :mod:`molgen.protein.dssp`:
  H = alpha, 3-10 and pi helices, E = any beta bridge);
- ``rg``: CA radius of gyration (A); ``rg_ratio``: ``rg / (2.2 * L**0.38)``, the natural
  compact-protein scaling (Skolnick et al. 1997); ~1 for natural globular chains;
- ``rama_allowed``: share of residues with both phi and psi in the allowed region of
  :func:`ramachandran_allowed`;
- ``phi_positive``: share of residues with phi > 0 (left-handed region: ~5% in natural proteins,
  mostly glycine; a mirrored or left-handed backbone scores high here while ``rama_allowed``,
  which admits the left-handed region, may not drop);
- ``helix_right_handed``: share of DSSP-helical residues with phi < 0 (a right-handed alpha helix
  has phi ~ -60; mirror images give phi ~ +60). NaN without helix.

:func:`designability` (in :mod:`molgen.metrics.designability`) is the plug-in for
ProteinMPNN + ESMFold self-consistency, which needs user-installed tools.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from molgen.protein.dssp import assign_secondary_structure
from molgen.protein.geometry import IDEAL_BOND_ANGLES_DEG, IDEAL_BOND_LENGTHS, backbone_dihedrals

__all__ = [
    "CA_CA_IDEAL",
    "C_N_IDEAL",
    "backbone_metrics",
    "backbone_metrics_table",
    "bond_geometry",
    "ca_ca_distances",
    "clash_pairs",
    "radius_of_gyration",
    "ramachandran_allowed",
    "summarize_backbones",
]

CA_CA_IDEAL = 3.80  # trans peptide CA-CA distance, A
C_N_IDEAL = 1.33  # peptide bond, A (Engh & Huber 1.329)


def _np(backbone: np.ndarray | torch.Tensor) -> np.ndarray:
    if torch.is_tensor(backbone):
        backbone = backbone.detach().cpu().numpy()
    bb = np.asarray(backbone, dtype=np.float64)
    if bb.ndim != 3 or bb.shape[1:] != (4, 3):
        raise ValueError(f"backbone must be [L, 4, 3], got {bb.shape}")
    return bb


def ca_ca_distances(backbone: np.ndarray | torch.Tensor) -> np.ndarray:
    """Consecutive CA-CA distances ``[L-1]`` (A)."""
    ca = _np(backbone)[:, 1]
    return np.linalg.norm(ca[1:] - ca[:-1], axis=-1)


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    u, v = a - b, c - b
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def bond_geometry(backbone: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """Per-bond values: ``n_ca``, ``ca_c`` ``[L]``, ``c_n`` ``[L-1]`` (A); angles ``n_ca_c`` ``[L]``,
    ``ca_c_n``, ``c_n_ca`` ``[L-1]`` (degrees)."""
    bb = _np(backbone)
    n, ca, c = bb[:, 0], bb[:, 1], bb[:, 2]
    return {
        "n_ca": np.linalg.norm(ca - n, axis=-1),
        "ca_c": np.linalg.norm(c - ca, axis=-1),
        "c_n": np.linalg.norm(n[1:] - c[:-1], axis=-1),
        "n_ca_c": _angle(n, ca, c),
        "ca_c_n": _angle(ca[:-1], c[:-1], n[1:]),
        "c_n_ca": _angle(c[:-1], n[1:], ca[1:]),
    }


_IDEAL = {
    "n_ca": IDEAL_BOND_LENGTHS["N-CA"], "ca_c": IDEAL_BOND_LENGTHS["CA-C"], "c_n": IDEAL_BOND_LENGTHS["C-N"],
    "n_ca_c": IDEAL_BOND_ANGLES_DEG["N-CA-C"], "ca_c_n": IDEAL_BOND_ANGLES_DEG["CA-C-N"],
    "c_n_ca": IDEAL_BOND_ANGLES_DEG["C-N-CA"],
}  # fmt: skip


def clash_pairs(
    backbone: np.ndarray | torch.Tensor, *, threshold: float = 3.0, min_sep: int = 3
) -> np.ndarray:
    """``int [K, 2]`` residue pairs ``i < j``, ``j - i >= min_sep``, with CA-CA < ``threshold`` A."""
    ca = _np(backbone)[:, 1]
    d = np.linalg.norm(ca[:, None] - ca[None], axis=-1)
    i, j = np.triu_indices(len(ca), k=min_sep)
    hit = d[i, j] < threshold
    return np.stack([i[hit], j[hit]], axis=1)


def radius_of_gyration(backbone: np.ndarray | torch.Tensor) -> float:
    """CA radius of gyration (A)."""
    ca = _np(backbone)[:, 1]
    return float(np.sqrt(((ca - ca.mean(0)) ** 2).sum(-1).mean()))


def ramachandran_allowed(phi_deg: np.ndarray, psi_deg: np.ndarray) -> np.ndarray:
    """``bool``: (phi, psi) in degrees inside a coarse allowed region (NaN -> False).

    The region, a rectangle-based simplification of the general-case plot (Lovell et al. 2003):

    - phi in [-180, -30] with psi anywhere except (-150, -100) — right-handed helix, bridge,
      beta and polyproline regions (the gap is the sterically forbidden band below the helix);
    - phi in [30, 120] with psi in [-60, 100] — left-handed helix region (mostly Gly/Asn/Asp);
    - phi in [45, 180] with psi in [150, 180] or [-180, -150] — the glycine epsilon region.
    """
    phi, psi = np.asarray(phi_deg), np.asarray(psi_deg)
    with np.errstate(invalid="ignore"):
        right = (phi <= -30) & ~((psi > -150) & (psi < -100))
        left = (phi >= 30) & (phi <= 120) & (psi >= -60) & (psi <= 100)
        eps = (phi >= 45) & ((psi >= 150) | (psi <= -150))
    return (right | left | eps) & np.isfinite(phi) & np.isfinite(psi)


def backbone_metrics(backbone: np.ndarray | torch.Tensor) -> dict[str, float]:
    """All metrics of one backbone ``[L, 4, 3]`` as a flat dict (see module docstring)."""
    bb = _np(backbone)
    length = len(bb)
    out: dict[str, float] = {"length": float(length)}
    d = ca_ca_distances(bb)
    out["ca_ca_mean"] = float(d.mean()) if len(d) else float("nan")
    out["ca_ca_valid"] = float((np.abs(d - CA_CA_IDEAL) <= 0.1).mean()) if len(d) else float("nan")
    geo = bond_geometry(bb)
    out["chain_breaks"] = float((geo["c_n"] > 2.0).sum())
    c_n = geo["c_n"]
    out["c_n_valid"] = float((np.abs(c_n - C_N_IDEAL) <= 0.1).mean()) if len(c_n) else float("nan")
    for key, values in geo.items():
        kind = "bond" if key in ("n_ca", "ca_c", "c_n") else "angle"
        out[f"{kind}_{key}_mean"] = float(values.mean()) if len(values) else float("nan")
        out[f"{kind}_{key}_dev"] = float(np.abs(values - _IDEAL[key]).mean()) if len(values) else float("nan")
    pairs = clash_pairs(bb)
    out["clashes"] = float(len(pairs))
    out["clash_residue_share"] = float(len(np.unique(pairs)) / length) if length else float("nan")
    ss = assign_secondary_structure(bb)
    for key, label in (("helix", "H"), ("strand", "E"), ("loop", "-")):
        out[key] = float((ss == label).mean())
    out["rg"] = radius_of_gyration(bb)
    out["rg_ratio"] = out["rg"] / (2.2 * length**0.38)
    phi, psi, _ = (np.degrees(t.numpy()) for t in backbone_dihedrals(torch.from_numpy(bb)))
    defined = np.isfinite(phi) & np.isfinite(psi)
    allowed = ramachandran_allowed(phi, psi)
    out["rama_allowed"] = float(allowed[defined].mean()) if defined.any() else float("nan")
    out["phi_positive"] = float((phi[defined] > 0).mean()) if defined.any() else float("nan")
    helical = (ss == "H") & np.isfinite(phi)
    out["helix_right_handed"] = float((phi[helical] < 0).mean()) if helical.any() else float("nan")
    return out


def backbone_metrics_table(
    backbones: Sequence[np.ndarray | torch.Tensor], names: Sequence[str] | None = None
):
    """``pandas.DataFrame`` with one row of :func:`backbone_metrics` per backbone (index: names)."""
    import pandas as pd

    rows = [backbone_metrics(b) for b in backbones]
    index = list(names) if names is not None else list(range(len(rows)))
    return pd.DataFrame(rows, index=pd.Index(index, name="name"))


def summarize_backbones(
    backbones: Sequence[np.ndarray | torch.Tensor], names: Sequence[str] | None = None
) -> dict[str, float]:
    """Set-level summary: the mean of every per-backbone metric (NaN-aware), plus ``n``
    (backbones) and ``clash_free_share`` (share of backbones with no clash)."""
    table = backbone_metrics_table(backbones, names)
    summary = {"n": float(len(table))}
    if len(table):
        summary.update({k: float(v) for k, v in table.mean(numeric_only=True, skipna=True).items()})
        summary["clash_free_share"] = float((table["clashes"] == 0).mean())
    return summary

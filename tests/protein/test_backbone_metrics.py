"""Backbone quality metrics on natural TS50 chains, mirrored chains and broken ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molgen.io.chains import ChainRecord
from molgen.metrics.backbone import (
    backbone_metrics,
    backbone_metrics_table,
    clash_pairs,
    ramachandran_allowed,
    summarize_backbones,
)
from molgen.protein.dssp import assign_secondary_structure
from molgen.protein.geometry import backbone_from_frames, frames_from_points, place_atom

MIRROR = np.array([1.0, 1.0, -1.0], dtype=np.float32)


def _ideal_chain(phi: float, psi: float, n: int = 30) -> np.ndarray:
    """Backbone with constant phi/psi (degrees), ideal bonds, trans peptides (NeRF)."""
    rad = math.radians
    n_, ca, c = torch.tensor([[-0.527, 1.359, 0.0], [0.0, 0.0, 0.0], [1.525, 0.0, 0.0]], dtype=torch.float64)
    atoms = [n_, ca, c]
    for _ in range(n - 1):
        atoms.append(place_atom(atoms[-3], atoms[-2], atoms[-1], 1.329, rad(116.2), rad(psi)))
        atoms.append(place_atom(atoms[-3], atoms[-2], atoms[-1], 1.458, rad(121.7), rad(180.0)))
        atoms.append(place_atom(atoms[-3], atoms[-2], atoms[-1], 1.525, rad(111.2), rad(phi)))
    xyz = torch.stack(atoms).reshape(n, 3, 3)
    rot, trans = frames_from_points(xyz[:, 0], xyz[:, 1], xyz[:, 2])
    return backbone_from_frames(rot, trans).numpy()


def test_natural_chains(ts50: list[ChainRecord], helical_chain: ChainRecord) -> None:
    m = backbone_metrics(helical_chain.backbone)
    assert m["ca_ca_valid"] > 0.95 and m["clashes"] == 0 and m["chain_breaks"] == 0
    assert 0.5 < m["helix"] < 0.85 and m["strand"] < 0.05
    assert 0.85 < m["rg_ratio"] < 1.2
    assert m["rama_allowed"] > 0.95 and m["helix_right_handed"] == 1.0
    assert m["bond_n_ca_dev"] < 0.03 and m["angle_n_ca_c_dev"] < 4.0
    sheet = backbone_metrics(next(r for r in ts50 if r.name == "3on9A").backbone)
    assert sheet["strand"] > 0.3 and sheet["helix"] < 0.05  # one 3-10 turn (PyDSSP's H includes G and I)
    assert math.isnan(sheet["helix_right_handed"]) or sheet["helix_right_handed"] == 1.0


def test_ts50_reference_summary(ts50: list[ChainRecord]) -> None:
    s = summarize_backbones([r.backbone for r in ts50])
    assert s["n"] == 50 and s["clash_free_share"] == 1.0
    assert s["ca_ca_valid"] > 0.98 and abs(s["ca_ca_mean"] - 3.80) < 0.02
    assert 0.25 < s["helix"] < 0.4 and 0.15 < s["strand"] < 0.3
    assert 0.95 < s["rg_ratio"] < 1.1 and s["rama_allowed"] > 0.97 and s["helix_right_handed"] > 0.99
    table = backbone_metrics_table([r.backbone for r in ts50[:3]], [r.name for r in ts50[:3]])
    assert list(table.index) == [r.name for r in ts50[:3]] and "rg" in table.columns


def test_mirrored_chain_has_left_handed_helices(helical_chain: ChainRecord) -> None:
    m = backbone_metrics(helical_chain.backbone)
    mm = backbone_metrics(helical_chain.backbone * MIRROR)
    assert mm["helix"] == pytest.approx(m["helix"])  # DSSP only sees distances
    assert mm["helix_right_handed"] == 0.0
    assert m["phi_positive"] < 0.1 and mm["phi_positive"] > 0.9  # helices land in the alpha-L region
    assert mm["rg"] == pytest.approx(m["rg"], rel=1e-5) and mm["clashes"] == 0


def test_ideal_helix_and_strand() -> None:
    helix = _ideal_chain(-57.0, -47.0)
    ss = assign_secondary_structure(helix)
    assert (ss[1:-4] == "H").all()
    m = backbone_metrics(helix)
    assert m["ca_ca_valid"] == 1.0 and m["bond_c_n_dev"] < 1e-3 and m["angle_ca_c_n_dev"] < 1e-3
    assert m["helix_right_handed"] == 1.0 and m["rama_allowed"] == 1.0
    assert backbone_metrics(helix * MIRROR)["helix_right_handed"] == 0.0
    extended = _ideal_chain(-120.0, 130.0)
    assert (assign_secondary_structure(extended) == "-").all()  # a lone strand has no partner
    assert backbone_metrics(extended)["rg_ratio"] > 1.5  # far from compact


def test_breaks_and_clashes(helical_chain: ChainRecord) -> None:
    bb = helical_chain.backbone.copy()
    bb[50:] += np.array([0.0, 0.0, 6.0], dtype=np.float32)
    m = backbone_metrics(bb)
    assert m["chain_breaks"] == 1 and m["ca_ca_valid"] < 1.0
    bb = helical_chain.backbone.copy()
    bb[40] = bb[10] + np.array([0.5, 0.0, 0.0], dtype=np.float32)  # residue 40 on top of residue 10
    pairs = clash_pairs(bb)
    assert [10, 40] in pairs.tolist()
    assert backbone_metrics(bb)["clash_residue_share"] > 0


def test_ramachandran_regions() -> None:
    phi = np.array([-63.0, -120.0, -60.0, 60.0, 80.0, 60.0, np.nan, -80.0])
    psi = np.array([-43.0, 130.0, -125.0, 45.0, 180.0, -120.0, 0.0, 160.0])
    assert ramachandran_allowed(phi, psi).tolist() == [True, True, False, True, True, False, False, True]

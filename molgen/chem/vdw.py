"""Van der Waals radii of element symbols (RDKit's periodic table), shared by the clash count
(:func:`molgen.metrics.pocket.count_clashes`) and the pocket walls of the pose relaxation
(:meth:`molgen.chem.pose_relaxation.PoseRelaxation.in_pocket`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

__all__ = ["vdw_radii"]


def vdw_radii(elements: Sequence[str], unknown: float | None = None) -> np.ndarray:
    """Radii [N] in A of ``elements`` (symbols in any case, e.g. PDB's ``CL``). A symbol that is no
    element gets ``unknown``; with ``unknown=None`` it is refused (``ValueError`` naming it)."""
    table = Chem.GetPeriodicTable()
    radii, bad = [], set()
    for el in elements:
        sym = str(el).strip().capitalize()
        try:
            radii.append(table.GetRvdw(table.GetAtomicNumber(sym)))
        except RuntimeError:
            bad.add(str(el))
            radii.append(np.nan if unknown is None else float(unknown))
    if bad and unknown is None:
        raise ValueError(f"elements {sorted(bad)}: not element symbols, no van der Waals radius")
    return np.asarray(radii, dtype=float)

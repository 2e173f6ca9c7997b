"""Decode generated atoms into molecules; their properties; docking with AutoDock Vina.

Submodules are imported on first use so that ``import molgen.chem`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "ReconstructedMol": "molgen.chem.reconstruct",
    "reconstruct_mol": "molgen.chem.reconstruct",
    "compute_properties": "molgen.chem.properties",
    "normalize_sa": "molgen.chem.properties",
    "VinaBox": "molgen.chem.docking",
    "prepare_ligand_pdbqt": "molgen.chem.docking",
    "prepare_receptor_pdbqt": "molgen.chem.docking",
    "vina_box": "molgen.chem.docking",
    "vina_scores": "molgen.chem.docking",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'molgen.chem' has no attribute {name!r}")

"""molgen: E(3)-equivariant diffusion over 3D molecules and proteins.

The public API is imported lazily so that ``import molgen`` stays fast::

    import molgen
    task = molgen.load_model("data/checkpoints/ligand_pocket.pt")
    mols = molgen.sample_ligands(receptor="rec.pdb", ref_ligand="lig.sdf", n_samples=10)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_model": "molgen.api",
    "sample_ligands": "molgen.api",
    "MolgenInputError": "molgen.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'molgen' has no attribute {name!r}")

"""molgen: E(3)-equivariant diffusion over 3D molecules and proteins.

The public API is imported lazily so that ``import molgen`` stays fast::

    import molgen
    model = molgen.load_model()                    # bundled ligand-pocket checkpoint
    mols = molgen.sample_ligands(model, receptor="rec.pdb", ref_ligand="lig.sdf", n_samples=10)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_model": "molgen.api",
    "sample_ligands": "molgen.api",
    "sample_molecules": "molgen.api",
    "bundled_checkpoint": "molgen.api",
    "MolgenInputError": "molgen.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'molgen' has no attribute {name!r}")

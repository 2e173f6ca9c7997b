"""Metrics of generated molecules, poses and backbones.

Submodules (imported on first use so that ``import molgen.metrics`` stays fast):
``molecule`` (validity, uniqueness, novelty, diversity, type distributions), ``pocket``
(PoseBusters, clashes, strain energy), ``stability`` (EDM atom/molecule stability),
``backbone`` and ``designability`` (protein backbones).
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "molecule_metrics": "molgen.metrics.molecule",
    "validity": "molgen.metrics.molecule",
    "uniqueness": "molgen.metrics.molecule",
    "novelty": "molgen.metrics.molecule",
    "internal_diversity": "molgen.metrics.molecule",
    "count_clashes": "molgen.metrics.pocket",
    "posebusters_checks": "molgen.metrics.pocket",
    "strain_energy": "molgen.metrics.pocket",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'molgen.metrics' has no attribute {name!r}")

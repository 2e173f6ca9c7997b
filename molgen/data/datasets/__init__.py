"""Datasets: one file per on-disk layout family."""

from molgen.data.datasets.complexes import (
    LAYOUTS,
    ComplexDataset,
    ComplexSource,
    crossdocked_sources,
    load_complex,
    posebusters_sources,
)

__all__ = [
    "LAYOUTS",
    "ComplexDataset",
    "ComplexSource",
    "crossdocked_sources",
    "load_complex",
    "posebusters_sources",
]

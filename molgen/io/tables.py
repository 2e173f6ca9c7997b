"""Tables written atomically: a crash mid-write never leaves a half-written CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from molgen.io.atomic import atomic_path

__all__ = ["write_csv_atomic"]


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """``df.to_csv(path, index=False)`` atomically (:func:`molgen.io.atomic.atomic_path`)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)

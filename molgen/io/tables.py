"""Tables written atomically: a crash mid-write never leaves a half-written CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["write_csv_atomic"]


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """``df.to_csv(path, index=False)`` through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

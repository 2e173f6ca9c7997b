"""The one exception type molgen raises for bad user input, and the value check its readers share."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MolgenInputError", "is_finite_number"]


class MolgenInputError(ValueError):
    """Bad input: the message names the file (or config key) and what is wrong with it."""


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is neither NaN nor infinite: what a numeric setting accepts."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

"""The one exception type molgen raises for bad user input."""

from __future__ import annotations

__all__ = ["MolgenInputError"]


class MolgenInputError(ValueError):
    """Bad input: the message names the file (or config key) and what is wrong with it."""

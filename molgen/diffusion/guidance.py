"""Classifier-free guidance weights, one for the coordinates and one for the chemistry.

A model trained with context dropout predicts both with the pocket (``c``) and without it (``u``);
sampling follows ``u + w (c - u)``: ``w = 1`` the conditional model, ``w = 0`` the unconditional
one. :class:`GuidanceScale` keeps two weights: ``positions`` for the coordinate estimate and
``chemistry`` for the categorical parts (atom types, formal charges, bond types; an atoms-only
model's atom-type features). ``[1, 0.5]`` places the atoms with the pocket but chooses elements and
bonds halfway towards the unconditional model, which learned its chemistry from far more
molecules than the pocket stage saw (docs/benchmarks.md, "Chemistry-only guidance").

Given as a number (both weights) or as ``[positions, chemistry]`` (``molgen sample
guidance_scale=[1,0.5]``); :meth:`GuidanceScale.parse` reads either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from molgen.errors import MolgenInputError, is_finite_number

__all__ = ["GuidanceScale"]


@dataclass(frozen=True)
class GuidanceScale:
    """Guidance weight of the coordinates (``positions``) and of the categories (``chemistry``)."""

    positions: float = 1.0
    chemistry: float = 1.0

    def __post_init__(self) -> None:
        for name in ("positions", "chemistry"):
            value = getattr(self, name)
            if not is_finite_number(value):
                raise MolgenInputError(f"guidance_scale: the {name} weight {value!r} must be a finite number")
            object.__setattr__(self, name, float(value))

    @classmethod
    def parse(cls, value: Any) -> "GuidanceScale":
        """A number (both weights), ``[positions, chemistry]`` (a list, tuple or OmegaConf list), or a
        :class:`GuidanceScale`."""
        if isinstance(value, GuidanceScale):
            return value
        if is_finite_number(value):
            return cls(value, value)
        pair = None if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") else list(value)
        if pair is not None and len(pair) == 2 and all(is_finite_number(v) for v in pair):
            return cls(*pair)
        shown = pair if pair is not None else value
        raise MolgenInputError(f"guidance_scale={shown!r}: must be a finite number (1: conditional, 0: "
                               "unconditional) or two, [positions, chemistry], e.g. [1, 0.5]")

    @property
    def conditional(self) -> bool:
        """Both weights 1: the conditional model alone (no unconditional pass needed)."""
        return self.positions == 1.0 and self.chemistry == 1.0

    def __str__(self) -> str:
        if self.positions == self.chemistry:
            return f"{self.positions:g}"
        return f"{self.positions:g} (positions) / {self.chemistry:g} (chemistry)"

    @staticmethod
    def mix(unconditional, conditional, weight: float):
        """``u + w (c - u)``."""
        return unconditional + weight * (conditional - unconditional)

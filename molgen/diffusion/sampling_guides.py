"""Several sampling-time guides applied in turn to each clean estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

__all__ = ["SamplingGuides"]


@dataclass(frozen=True)
class SamplingGuides:
    """Guides (objects with ``bind(pocket_pos)``, e.g.
    :class:`~molgen.diffusion.fragment_attraction.FragmentAttraction` and
    :class:`~molgen.diffusion.pocket_repulsion.PocketRepulsion`) applied in the given order."""

    guides: tuple[Any, ...]

    def bind(self, pocket_pos: Tensor):
        """The guide ``(prediction, state, t) -> prediction`` running every bound guide in turn."""
        bound = [g.bind(pocket_pos) for g in self.guides]

        def guide(pred, state, t: float):
            for g in bound:
                pred = g(pred, state, t)
            return pred
        return guide

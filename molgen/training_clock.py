"""Training hours as a logged metric, so a learning curve can be drawn against wall time.

:class:`TrainingClock` logs ``train/hours`` with the training metrics and ``val/hours`` with each
validation; the hours of earlier runs of a resumed training are kept in its checkpoint state, so
the clock goes on across stops (the time between a stop and the resume is not counted).
"""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import Callback

__all__ = ["TrainingClock"]


class TrainingClock(Callback):
    """Logs cumulative training wall-clock hours (``train/hours``, ``val/hours``)."""

    def __init__(self) -> None:
        self.offset_hours = 0.0
        self._start: float | None = None

    @property
    def state_key(self) -> str:
        return "molgen.TrainingClock"

    def hours(self) -> float:
        return self.offset_hours + (0.0 if self._start is None else (time.monotonic() - self._start) / 3600.0)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._start = time.monotonic()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        pl_module.log("train/hours", self.hours(), batch_size=1)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            pl_module.log("val/hours", self.hours(), batch_size=1)

    def state_dict(self) -> dict[str, float]:
        return {"hours": self.hours()}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.offset_hours = float(state_dict.get("hours", 0.0))

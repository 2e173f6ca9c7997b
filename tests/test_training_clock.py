"""The training clock logs cumulative hours and carries them across a resume."""

from __future__ import annotations

import time

from molgen.training_clock import TrainingClock


def test_clock_counts_from_train_start_and_keeps_earlier_hours_on_resume():
    clock = TrainingClock()
    assert clock.hours() == 0.0
    clock.on_train_start(None, None)
    time.sleep(0.01)
    h = clock.hours()
    assert 0 < h < 1e-3
    resumed = TrainingClock()
    resumed.load_state_dict(clock.state_dict())
    assert resumed.hours() >= h
    resumed.on_train_start(None, None)
    assert resumed.hours() >= h
    assert resumed.state_key == "molgen.TrainingClock"

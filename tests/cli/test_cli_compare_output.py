"""The shared CLI output helpers: progress only for slow work, names split, command line rebuilt."""

from __future__ import annotations

import time

import pytest

from heredity.cli import _output as out
from heredity.errors import UsageError


def test_progress_disabled_draws_nothing() -> None:
    with out.StepProgress(enabled=False, delay=0.0) as bar:
        bar("reading", 1, 10)
        assert bar._progress is None


def test_progress_stays_hidden_for_fast_work() -> None:
    with out.StepProgress(enabled=True, delay=3600.0) as bar:
        bar("identical", 0, 4)
        bar("vectors", 1, 4)
    assert not bar.shown  # closed before the delay: nothing was drawn


def test_progress_shows_slow_work_and_follows_the_step() -> None:
    with out.StepProgress(enabled=True, delay=0.0) as bar:
        bar("identical", 0, 4)
        bar("vectors", 1, 4)
        deadline = time.monotonic() + 5
        while not bar.shown and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bar.shown and bar._progress is not None
        (task,) = bar._progress.tasks
        assert (task.description, task.completed, task.total) == ("vectors", 1, 4)
    bar("late", 2, 4)  # calls after close are ignored
    assert bar._progress.tasks[0].description == "vectors"


def test_split_names() -> None:
    assert out.split_names(None) is None
    assert out.split_names(" vectors,matching ,") == ["vectors", "matching"]
    with pytest.raises(UsageError):
        out.split_names(" , ")

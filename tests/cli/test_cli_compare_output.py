"""The shared CLI output helpers: progress only for slow steps, names split, command line rebuilt."""

from __future__ import annotations

import pytest

from heredity.cli import _output as out
from heredity.errors import UsageError


def test_progress_disabled_draws_nothing() -> None:
    bar = out.StepProgress(enabled=False, delay=0.0)
    bar("reading", 1, 10)
    assert bar._progress is None


def test_progress_waits_for_slow_steps() -> None:
    with out.StepProgress(enabled=True, delay=3600.0) as bar:
        bar("reading", 1, 10)
        assert bar._progress is None  # a step is drawn only after it has run longer than the delay


def test_progress_draws_slow_steps() -> None:
    with out.StepProgress(enabled=True, delay=0.0) as bar:
        bar("reading", 1, 10)
        bar("reading", 5, 10)
        assert bar._progress is not None
        (task,) = bar._progress.tasks
        assert (task.description, task.completed, task.total) == ("reading", 5, 10)


def test_split_names() -> None:
    assert out.split_names(None) is None
    assert out.split_names(" vectors,matching ,") == ["vectors", "matching"]
    with pytest.raises(UsageError):
        out.split_names(" , ")

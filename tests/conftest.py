"""Fixtures shared across test areas."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_suite_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the forge's quick ground-truth suite, so it is trained once per test session
    (the forge caches by name under the root; the first user builds, later users only read)."""
    return tmp_path_factory.mktemp("quick-suite")

"""Pause Python's cyclic garbage collector while an inventory of ~100,000 entries is built.

Why: building that many small objects triggers collections that each walk every live object, which
nearly doubled the time to open and lay out a DeepSeek-V3 header (benchmarks/inventory.py).  The
objects built here hold no reference cycles, so nothing is lost by collecting after; the previous
state is restored (a caller that disabled the collector keeps it disabled).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

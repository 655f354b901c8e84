"""Real models trained by other people (../shared/realmodels): the verdicts that must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from heredity.compare import compare
from heredity.evidence import plan

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
STORIES, XS_PT, XS_BIN = REAL / "stories260K.bin", REAL / "llama2xs" / "ckpt.pt", REAL / "llama2xs" / "model.bin"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not STORIES.exists(), reason="real models not present")]


def test_independent_real_pair() -> None:
    c = compare(STORIES, XS_PT)
    assert c.verdict.label == "independent", c.verdict.reason
    by = {e.test: e for e in c.evidence}
    assert by["matching"].applicable and by["vectors"].applicable
    assert by["identical"].p_value == 1.0


def test_same_weights_two_formats_related() -> None:
    assert compare(XS_PT, XS_BIN).verdict.label == "related"  # the adaptive plan stops at the first decisive test
    c = compare(XS_PT, XS_BIN, thorough=True)
    assert c.verdict.label == "related"
    by = {e.test: e for e in c.evidence}
    assert by["identical"].detail["decisive"]
    assert by["matching"].p_value < 1e-100 and by["vectors"].p_value < 1e-20


def test_reads_only_what_tests_need() -> None:
    c = compare(STORIES, XS_PT, tests=[plan.by_name("vectors")()])
    assert c.bytes_read["a"] < 10_000  # norms only: 11 vectors of 64 floats
    assert all("norm" in n for n in c.tensors_read["a"])

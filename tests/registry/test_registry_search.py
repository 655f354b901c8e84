"""Search over synthetic fingerprints: Holm's m is every entry searched, whatever the prefilter kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from heredity.registry.search import search
from heredity.registry.store import Registry
from heredity.registry.synthetic import base_fingerprint, derived_fingerprint


@pytest.fixture(scope="module")
def registry_40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reg") / "r.db"
    bases = [base_fingerprint(100 + i) for i in range(8)]
    with Registry(db) as reg:
        for i, b in enumerate(bases):
            reg.add(b, source=f"base-{i}", name=f"base-{i}")
        for i in range(32):
            reg.add(derived_fingerprint(bases[i % 8], seed=i), source=f"copy-{i}", name=f"copy-{i}")
    return db


def test_m_counts_every_entry_and_unshortlisted_ones_enter_with_p_one(registry_40: Path) -> None:
    query = derived_fingerprint(base_fingerprint(103), seed=999)
    with Registry(registry_40, create=False) as reg:
        result = search(reg, query, shortlist=5, shortlist_same_shape=2)
    doc = result.to_dict()
    assert doc["candidates_tested"] == doc["multiplicity"]["m"] == 40
    assert len(result.matches) == doc["multiplicity"]["compared_in_full"] < 40
    assert doc["multiplicity"]["not_compared"] == 40 - len(result.matches)
    smallest = min(m.p_value for m in result.matches if m.p_value is not None)
    assert min(m.p_adjusted for m in result.matches) == pytest.approx(min(1.0, 40 * smallest))
    related = {m.name for m in result.related}
    assert related and related <= {"base-3", "copy-3", "copy-11", "copy-19", "copy-27"}


def test_excluded_entries_are_not_searched(registry_40: Path) -> None:
    query = derived_fingerprint(base_fingerprint(103), seed=999)
    with Registry(registry_40, create=False) as reg:
        keys = {e.name: e.key for e in reg.entries()}
        result = search(reg, query, exclude={keys["base-3"], keys["copy-3"]})
    assert result.entries_searched == 38
    assert {"base-3", "copy-3"}.isdisjoint(m.name for m in result.matches)


def test_a_bigger_registry_demands_more(registry_40: Path, tmp_path: Path) -> None:
    """The same comparison's adjusted p-value grows with the number of entries searched."""
    query = derived_fingerprint(base_fingerprint(105), seed=7)
    small = tmp_path / "small.db"
    with Registry(registry_40, create=False) as big, Registry(small) as reg:
        b5 = big.get("base-5")
        reg.add(big.fingerprint(b5.key), source="base-5", name="base-5")
        one = search(reg, query).matches[0]
        many = next(m for m in search(big, query).matches if m.name == "base-5")
    assert one.p_value == pytest.approx(many.p_value) and one.p_adjusted == pytest.approx(one.p_value)
    assert one.p_value is not None and 0 < one.p_value < 1e-3
    assert many.p_adjusted >= 36 * one.p_value  # Holm over 40: at least (40 - 4 related before it) x p

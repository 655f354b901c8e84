"""``heredity verify-claim``: does a model descend from the base its model card names?

The claimed base is ``--base`` or the ``base_model`` field of the YAML header of the model folder's
README.md (a string or a list; every listed base is checked and the claim holds when one is related).
A claimed base is looked up as a registry entry (by name or source) first, else opened as a path or hub
id.  Answers, with the exit code the CLI gives each:

* ``confirmed`` (0) — the comparison says related (its combined p-value below
  :data:`heredity.verdict.RELATED_P`; one pre-stated hypothesis per listed base, Holm across them);
* ``contradicted`` (4) — the comparison says independent: tests with power ran and nothing rejected;
  the registry is then searched for the nearest related base, if any;
* ``unverifiable`` (5) — no claim, the base cannot be opened, or the evidence is not enough either way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.errors import HeredityError, safe_name
from heredity.results import Comparison
from heredity.stats import holm
from heredity.verdict import RELATED_P

CLAIM_SCHEMA = "heredity.verify_claim/1"
MAX_CARD_BYTES = 1024 * 1024


class Answer(enum.StrEnum):
    CONFIRMED = "confirmed"
    CONTRADICTED = "contradicted"
    UNVERIFIABLE = "unverifiable"


EXIT_CODES = {Answer.CONFIRMED: 0, Answer.CONTRADICTED: 4, Answer.UNVERIFIABLE: 5}


@dataclass(frozen=True)
class Checked:
    """One claimed base and what the comparison found."""

    base: str
    resolved: str  # what was compared: a registry entry name or the path / hub id
    comparison: Comparison | None
    p_adjusted: float | None  # Holm across the listed bases
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {"base": self.base, "resolved": self.resolved, "error": self.error,
                "verdict": c.verdict.label if c else None, "p_value": c.verdict.p_value if c else None,
                "p_adjusted": self.p_adjusted, "reason": c.verdict.reason if c else None,
                "evidence": {e.test: {"applicable": e.applicable, "p_value": e.to_dict()["p_value"],
                                      "summary": e.summary} for e in c.evidence} if c else {}}


@dataclass(frozen=True)
class ClaimResult:
    model: str
    claimed: tuple[str, ...]
    claim_from: str  # "--base" | "model card" | "none"
    answer: Answer
    reason: str
    checked: tuple[Checked, ...] = ()
    nearest: dict[str, Any] | None = None  # the registry's nearest related base (when contradicted)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.answer]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": CLAIM_SCHEMA, "model": self.model, "claimed_base": list(self.claimed),
                "claim_from": self.claim_from, "answer": str(self.answer), "reason": self.reason,
                "checked": [c.to_dict() for c in self.checked], "nearest": self.nearest,
                "exit_code": self.exit_code}


def card_base_models(model: str) -> list[str]:
    """The ``base_model`` values in the YAML header of ``MODEL/README.md`` (empty when none)."""
    folder = Path(model)
    card = folder / "README.md" if folder.is_dir() else None
    if card is None or not card.is_file() or card.stat().st_size > MAX_CARD_BYTES:
        return []
    return parse_base_model(card.read_text(encoding="utf-8", errors="replace"))


def parse_base_model(text: str) -> list[str]:
    """``base_model`` from a model card's front matter: ``base_model: x``, ``[x, y]`` or a ``- x`` list."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return []
    header = []
    for line in lines[1:]:
        if line.strip() in ("---", "..."):
            break
        header.append(line)
    for i, line in enumerate(header):
        if not line.startswith("base_model:"):
            continue
        value = line.split(":", 1)[1].strip()
        if value.startswith("["):
            return [_unquote(v) for v in value.strip("[]").split(",") if _unquote(v)]
        if value:
            return [_unquote(value)]
        out = []
        for item in header[i + 1:]:
            stripped = item.strip()
            if not stripped.startswith("- "):
                break
            out.append(_unquote(stripped[2:]))
        return [v for v in out if v]
    return []


def _unquote(v: str) -> str:
    v = v.split(" #", 1)[0].strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v


def verify(model: str, bases: list[str], claim_from: str, registry: Any | None, *, seed: int = 0) -> ClaimResult:
    """Check the claim (module docstring); ``registry`` is an open Registry or None."""
    if not bases:
        return ClaimResult(model, (), "none", Answer.UNVERIFIABLE,
                           "no claimed base: the model card has no base_model field and --base was not given")
    comparisons = [_check(model, b, registry, seed) for b in bases]
    ps = [c.verdict.p_value if c is not None and c.verdict.p_value is not None else 1.0 for c, _, _ in comparisons]
    adjusted = holm(ps)
    checked = tuple(Checked(b, resolved, c, adj if c is not None else None, err)
                    for b, (c, resolved, err), adj in zip(bases, comparisons, adjusted, strict=True))
    confirmed = [c for c in checked if c.p_adjusted is not None and c.p_adjusted < RELATED_P]
    if confirmed:
        best = min(confirmed, key=lambda c: c.p_adjusted or 1.0)
        return ClaimResult(model, tuple(bases), claim_from, Answer.CONFIRMED,
                           f"related to {safe_name(best.base)} (p={best.p_adjusted:.2g})", checked)
    if all(c.comparison is not None and c.comparison.verdict.label == "independent" for c in checked):
        nearest = _nearest(model, registry, seed)
        where = f"; nearest registered base: {safe_name(nearest['name'])}" if nearest else ""
        return ClaimResult(model, tuple(bases), claim_from, Answer.CONTRADICTED,
                           "tests with power found no shared lineage with the claimed base" + where, checked, nearest)
    why = "; ".join(f"{safe_name(c.base)}: {c.error or (c.comparison.verdict.reason if c.comparison else '')}"
                    for c in checked)
    return ClaimResult(model, tuple(bases), claim_from, Answer.UNVERIFIABLE, f"not enough evidence either way ({why})",
                       checked, _nearest(model, registry, seed))


def _check(model: str, base: str, registry: Any | None, seed: int) -> tuple[Comparison | None, str, str | None]:
    from heredity.compare import compare

    try:
        entry = _entry(registry, base)
        if entry is not None and registry is not None:
            from heredity.registry.ingest import ingest

            return compare(ingest(model).fingerprint, registry.fingerprint(entry.key), seed=seed), entry.name, None
        return compare(model, base, seed=seed), base, None
    except HeredityError as exc:
        return None, base, str(exc)


def _entry(registry: Any | None, base: str) -> Any | None:
    if registry is None:
        return None
    from heredity.registry.store import RegistryError

    try:
        return registry.get(base)
    except RegistryError:
        pass
    for e in registry.entries():
        if base in (e.source, f"{e.source}@{e.revision}") or (Path(base).exists() and e.source == str(Path(base).resolve())):
            return e
    return None


def _nearest(model: str, registry: Any | None, seed: int) -> dict[str, Any] | None:
    if registry is None or registry.count() == 0:
        return None
    from heredity.registry.ingest import ingest
    from heredity.registry.search import query_of, search

    fp = ingest(model).fingerprint
    q = query_of(fp)
    result = search(registry, fp, exclude={q.key}, seed=seed)
    if not result.related:
        return None
    best = result.related[0]
    return {"name": best.name, "source": best.source, "p_adjusted": best.p_adjusted, "entries_searched":
            result.entries_searched}

"""Score any other lineage tool: ``heredity bench --cmd 'other-tool {a} {b}'``.

The template is split into words with :func:`shlex.split` *before* the paths are put in, and the
command runs without a shell, so a path can never become shell syntax: ``{a}`` / ``{b}`` inside a word
are replaced by the raw paths, one word each.  (Shown to a person, the command is rebuilt with
:func:`shlex.join`, i.e. paths quoted with :func:`shlex.quote`.)

What the tool says is read, in order:

1. stdout holding a JSON object with ``"verdict"`` (related / independent / inconclusive) and/or
   ``"p_value"`` (``heredity compare --format json`` itself qualifies); a p-value without a verdict is
   read with heredity's own threshold, so both are judged alike;
2. otherwise the exit status: 0 = independent, 3 = related (``heredity compare --fail-on related``'s
   convention); anything else is a failure, recorded as ``inconclusive`` with the stderr tail.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from heredity.bench.metrics import score_from_p
from heredity.bench.results import Outcome
from heredity.errors import UsageError
from heredity.verdict import RELATED_P

VERDICTS = ("related", "independent", "inconclusive")
EXIT_RELATED = 3


def build_argv(template: str, a: str, b: str) -> list[str]:
    """The command's words with ``{a}`` and ``{b}`` replaced by the paths (no shell involved)."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise UsageError(f"cannot parse --cmd template: {exc}", fix="check its quotes") from exc
    if not words or not any("{a}" in w for w in words) or not any("{b}" in w for w in words):
        raise UsageError("--cmd needs a command with {a} and {b} placeholders", fix="e.g. --cmd 'tool {a} {b}'")
    return [w.replace("{a}", a).replace("{b}", b) for w in words]


def _json_object(stdout: str) -> Mapping[str, Any] | None:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _p_value(doc: Mapping[str, Any]) -> float | None:
    p = doc.get("p_value")
    if isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 <= float(p) <= 1.0:
        return float(p)
    return None


def parse_output(stdout: str, returncode: int, stderr: str = "") -> tuple[str, float | None, str]:
    """``(verdict, p_value, note)`` from what the command printed and how it exited."""
    doc = _json_object(stdout)
    if doc is not None and ("verdict" in doc or "p_value" in doc):
        p = _p_value(doc)
        verdict = doc.get("verdict")
        if verdict in VERDICTS:
            return str(verdict), p, ""
        if p is not None:
            return ("related" if p < RELATED_P else "independent"), p, "verdict from p_value"
        return "inconclusive", None, "JSON without a usable verdict or p_value"
    if returncode == 0:
        return "independent", None, "exit status 0"
    if returncode == EXIT_RELATED:
        return "related", None, "exit status 3"
    tail = stderr.strip().splitlines()[-1:] or [""]
    return "inconclusive", None, f"failed with exit status {returncode}: {tail[0][:200]}"


def _score(verdict: str, p: float | None) -> float:
    """-log10 p when the tool gives one; otherwise 1 for related, 0 for anything else."""
    if p is not None:
        return score_from_p(p)
    return 1.0 if verdict == "related" else 0.0


class CommandDetector:
    """Runs a user's command template on each pair and reads its verdict; named ``name`` in the table."""

    def __init__(self, template: str, name: str = "cmd", timeout: float = 600.0) -> None:
        build_argv(template, "a", "b")  # fail early on a bad template
        self.template, self.name, self.timeout = template, name, timeout

    def run(self, a: str, b: str) -> Mapping[str, Outcome]:
        argv = build_argv(self.template, a, b)
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            note = f"could not run {shlex.join(argv)}: {exc}"
            return {self.name: Outcome("inconclusive", None, 0.0, time.perf_counter() - start, note=note)}
        seconds = time.perf_counter() - start
        verdict, p, note = parse_output(proc.stdout, proc.returncode, proc.stderr)
        return {self.name: Outcome(verdict, p, _score(verdict, p), seconds, note=note)}

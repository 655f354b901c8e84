"""The README architecture table is generated from the data files and lists every family."""

from __future__ import annotations

import runpy
from pathlib import Path

from heredity.layouts.registry import family_names

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_arch_table.py"


def test_table_lists_every_family_once() -> None:
    text = runpy.run_path(str(SCRIPT))["table"]()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == family_names()
    gpt2 = next(r for r in rows if r.startswith("| `gpt2`"))
    assert "transposed" in gpt2 and "split" in gpt2
    assert "llama2.c" in next(r for r in rows if r.startswith("| `llama`"))
    assert "MLA" in next(r for r in rows if r.startswith("| `deepseek_v3`"))


def test_readme_holds_the_generated_table_exactly() -> None:
    text = runpy.run_path(str(SCRIPT))["table"]()
    readme = (SCRIPT.parents[1] / "README.md").read_text(encoding="utf-8")
    assert text in readme, "README's architecture table is stale: run python scripts/gen_arch_table.py"

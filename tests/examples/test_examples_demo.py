"""`make demo` runs examples/demo.py: it must work and get the bundled ground truth right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_gets_the_bundled_pairs_right(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = {block.split("\n", 1)[0]: block for block in proc.stdout.split("\n$ heredity ")[1:]}
    base = str(ROOT / "examples" / "models" / "qwen2-base")
    up = runs[f"compare {base} {ROOT / 'examples' / 'models' / 'qwen2-moge-upcycled'}"]
    scratch = runs[f"compare {base} {ROOT / 'examples' / 'models' / 'moge-scratch'}"]
    assert "RELATED" in up and "INDEPENDENT" not in up
    assert "INDEPENDENT" in scratch and "RELATED" not in scratch
    assert (ROOT / "examples" / "out" / "upcycled.html").stat().st_size > 10_000

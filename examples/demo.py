"""`make demo`: heredity's main job on the bundled example models.

The three models in examples/models/ were forged with heredity itself (see examples/README.md for the
exact commands): a Qwen2-style dense model, that model upcycled into a Pangu-style Mixture of Grouped
Experts and trained further, and a MoGE trained from scratch on the same text.  This is the Pangu/Qwen
dispute in miniature: the public attention-std fingerprint scores both pairs alike; heredity does not.
When the real trained models in ../shared/realmodels/ are present, they are compared too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from heredity.cli.main import main

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
REAL = HERE.parent.parent / "shared" / "realmodels"
OUT = HERE / "out"


def run(*args: str) -> int:
    print(f"\n$ heredity {' '.join(args)}", flush=True)
    code = main(list(args))
    if code not in (0, 3):
        sys.exit(code)
    return code


def demo() -> None:
    OUT.mkdir(exist_ok=True)
    base, upcycled, scratch = (str(MODELS / n) for n in ("qwen2-base", "qwen2-moge-upcycled", "moge-scratch"))
    run("inspect", upcycled)
    run("compare", base, upcycled)
    run("compare", base, scratch)
    run("report", base, upcycled, "-o", str(OUT / "upcycled.html"))
    run("report", base, scratch, "-o", str(OUT / "scratch.html"))
    if (REAL / "stories260K.bin").exists():
        run("compare", str(REAL / "stories260K.bin"), str(REAL / "llama2xs" / "ckpt.pt"))
    print(f"\nHTML reports: {OUT / 'upcycled.html'} and {OUT / 'scratch.html'}")


if __name__ == "__main__":
    demo()

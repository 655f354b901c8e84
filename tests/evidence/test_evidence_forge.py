"""Tiny models actually trained with the forge: two seeds are independent, a fine-tune is related."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from heredity.compare import compare  # noqa: E402
from heredity.forge.hf_config import to_hf  # noqa: E402

STEPS = 30  # enough to move norms off 1.0; the verdicts do not depend on more


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from heredity.forge.config import preset
    from heredity.forge.data import load_corpus
    from heredity.forge.derive.finetune import finetune
    from heredity.forge.io import save_folder, save_model, to_arrays
    from heredity.forge.train import train

    root = tmp_path_factory.mktemp("forge")
    cfg, text = preset("llama", "tiny"), load_corpus("fables")
    out = {}
    for seed in (1, 2):
        model, _ = train(cfg, text, STEPS, seed)
        out[f"s{seed}"] = save_model(model, root / f"s{seed}")
        if seed == 1:
            arrays, config = finetune(to_arrays(model), to_hf(cfg), text, steps=10, seed=5)
            out["ft"] = save_folder(arrays, config, root / "ft")
    return {k: Path(v) for k, v in out.items()}


@pytest.mark.slow
def test_two_seeds_independent(trained: dict[str, Path]) -> None:
    c = compare(trained["s1"], trained["s2"])
    assert c.verdict.label == "independent", (c.verdict.reason, [(e.test, e.p_value) for e in c.evidence])


@pytest.mark.slow
def test_finetune_related(trained: dict[str, Path]) -> None:
    assert compare(trained["s1"], trained["ft"]).verdict.label == "related"

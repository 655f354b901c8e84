"""``heredity inspect``: JSON matches the heredity.inspect/1 schema; terminal output matches a golden file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from heredity.cli.main import main
from heredity.synth import make_checkpoint

GOLDEN = Path(__file__).parent / "golden" / "inspect_qwen2_moe.txt"
SCHEMA_KEYS = ["schema", "family", "format", "layers", "hidden_size", "heads", "kv_heads", "intermediate_size",
               "experts", "expert_groups", "experts_per_token", "shared_experts", "vocab_size", "params", "dtypes",
               "roles", "unknown_tensors", "source", "inferred", "notes", "warnings", "prefix_stripped",
               "components", "nonfinite", "renamed"]  # fmt: skip


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from heredity.checkpoint.writers import save_hf_folder

    ck = make_checkpoint("qwen2_moe", seed=2)
    save_hf_folder(ck.arrays, ck.config, tmp_path / "tiny-moe")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    return "tiny-moe"


def test_json_output_matches_schema(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", model_dir, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == SCHEMA_KEYS
    assert doc["schema"] == "heredity.inspect/1"
    assert (doc["family"], doc["format"], doc["layers"], doc["experts"], doc["experts_per_token"]) == (
        "qwen2_moe", "safetensors", 2, 4, 2,
    )  # fmt: skip
    assert doc["expert_groups"] is None and doc["intermediate_size"] is None  # no dense FFN in this model
    assert doc["roles"]["expert_up"] == 8 and doc["unknown_tensors"] == []
    ck = make_checkpoint("qwen2_moe", seed=2)
    assert doc["dtypes"] == {"F32": len(ck.arrays)}
    assert doc["params"] == sum(a.size for a in ck.arrays.values())


def test_terminal_output_is_golden(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", model_dir]) == 0
    text = capsys.readouterr().out
    assert "\x1b[" not in text
    if os.environ.get("HEREDITY_UPDATE_GOLDEN") == "1":  # regenerate deliberately, then review the diff
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "missing.safetensors")]) == 2
    assert "heredity: error:" in capsys.readouterr().err


def test_hostile_names_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from heredity.checkpoint.writers import save_hf_folder

    ck = make_checkpoint("llama", layers=1)
    ck.arrays["evil\x1b[31m[bold]name"] = np.ones((3, 3), np.float32)
    ck.arrays["odd:warning:name"] = np.ones((3, 3), np.float32)  # an emoji code, which escaping leaves alone
    save_hf_folder(ck.arrays, ck.config, tmp_path / "evil")
    assert main(["inspect", str(tmp_path / "evil")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[31m[bold]name" in out
    assert "odd:warning:name" in out

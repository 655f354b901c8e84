"""``heredity forge train|derive|suite`` end to end through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from heredity.cli.main import main  # noqa: E402
from heredity.forge.io import load_folder  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "q"
    assert main(["forge", "train", "--family", "qwen2", "--steps", "30", "--seed", "1", "-o", str(out)]) == 0
    return out


def test_train_writes_an_hf_folder(trained: Path) -> None:
    arrays, config = load_folder(trained)
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert "model.layers.0.self_attn.q_proj.bias" in arrays


def test_train_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["forge", "train", "--family", "llama", "--steps", "20", "--format", "json", "-o", str(tmp_path / "m")])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["final_loss"] < summary["first_loss"]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("rename", []), ("permute", ["--seed", "3"]), ("rescale", []), ("prune-depth", ["--drop", "0"]),
     ("prune-width", ["--hidden", "0.5"]), ("upcycle-moe", ["--experts", "4"]),
     ("upcycle-moge", ["--experts", "8", "--groups", "4", "--top-k", "4", "--mode", "copies"]),
     ("finetune", ["--steps", "5"]), ("lora", ["--steps", "5", "--rank", "2"])],
)
def test_derive_kinds(trained: Path, tmp_path: Path, kind: str, extra: list[str]) -> None:
    out = tmp_path / kind
    assert main(["forge", "derive", kind, str(trained), "-o", str(out), *extra]) == 0
    assert (out / "config.json").is_file()


def test_merge_and_ties_take_other_models(trained: Path, tmp_path: Path) -> None:
    tuned = tmp_path / "ft"
    assert main(["forge", "derive", "finetune", str(trained), "-o", str(tuned), "--steps", "5"]) == 0
    assert main(["forge", "derive", "merge", str(trained), "--with", str(tuned), "-o", str(tmp_path / "m")]) == 0
    assert main(["forge", "derive", "ties", str(trained), "--with", str(tuned), "-o", str(tmp_path / "t")]) == 0


def test_quantize_writes_a_file(trained: Path, tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    out = tmp_path / "q.gguf"
    assert main(["forge", "derive", "quantize", str(trained), "-o", str(out), "--qtype", "Q8_0"]) == 0
    assert out.read_bytes()[:4] == b"GGUF"


def test_bad_input_exits_2_with_one_line(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forge", "derive", "merge", str(trained), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("heredity: error:") and "--with" in err and "\n" not in err
    assert main(["forge", "train", "--family", "nope", "-o", str(tmp_path / "y")]) == 2


def test_balance_reports_both_routers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forge", "balance", "--steps", "20", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"moge", "topk"} and out["moge"]["device_is"] == 0.0

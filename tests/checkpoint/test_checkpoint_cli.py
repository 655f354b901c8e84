"""Hostile files through the CLI: exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from heredity.cli.main import main


def _evil(path: Path) -> Path:
    raw = json.dumps({"a\x1b[31m": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(4))
    return path


@pytest.mark.parametrize("make", ["evil", "huge", "missing"])
def test_inspect_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    path = tmp_path / "evil.safetensors"
    if make == "evil":
        _evil(path)
    elif make == "huge":
        path.write_bytes(struct.pack("<Q", 1 << 62) + b"{}")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("heredity: error: ")
    assert "evil.safetensors" in err and "Traceback" not in err and "\x1b" not in err


def test_inspect_evil_pickle_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93\x8c\x04true\x85R."
    )
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pytorch_model.bin" in err and "Traceback" not in err


def test_evil_pickle_in_a_real_process_prints_one_line(tmp_path: Path) -> None:
    """Outside pytest's warning filters torch warns about pickle protocols; stderr must stay one line."""
    import subprocess
    import sys

    pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    path.write_bytes(
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93\x8c\x04true\x85R."
    )
    done = subprocess.run(
        [sys.executable, "-m", "heredity.cli.main", "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "model.pt" in done.stderr and "Warning" not in done.stderr

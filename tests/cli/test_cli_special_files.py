"""Paths that can never be checkpoints are refused at once, with one line and exit 2."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from heredity.cli.main import main

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("command", ["inspect", "compare", "fingerprint"])
def test_fifo_refused_without_blocking(tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    args = {"inspect": [str(fifo)], "compare": [str(fifo), str(fifo)],
            "fingerprint": [str(fifo), "-o", str(tmp_path / "fp")]}[command]
    result: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: result.append(_run(capsys, command, *args)), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "wb"):
            pass
        pytest.fail("opening a FIFO blocked")
    code, err = result[0]
    assert code == 2 and err.count("\n") == 1 and "FIFO" in err and "model.safetensors" in err


def test_socket_and_device_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.gguf"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        code, err = _run(capsys, "inspect", str(path))
    assert code == 2 and "is a socket" in err
    code, err = _run(capsys, "inspect", "/dev/null")
    assert code == 2 and "character device" in err


def test_symlink_loop_and_broken_link_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    code, err = _run(capsys, "inspect", str(tmp_path / "a"))
    assert code == 2 and "symbolic link loop" in err
    (tmp_path / "c").symlink_to(tmp_path / "gone.safetensors")
    code, err = _run(capsys, "inspect", str(tmp_path / "c"))
    assert code == 2 and "broken symbolic link" in err


@pytest.mark.skipif(not (REAL / "stories260K.bin").exists(), reason="real models missing")
def test_truncated_llama2c_named_truncated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = (REAL / "stories260K.bin").read_bytes()
    cut = tmp_path / "stories.bin"
    cut.write_bytes(full[: len(full) // 2])
    code, err = _run(capsys, "inspect", str(cut))
    assert code == 2 and "truncated llama2.c export" in err and f"has {len(full) // 2}" in err
    cut.write_bytes(full + b"\0")  # one byte too many is not called truncated
    code, err = _run(capsys, "inspect", str(cut))
    assert code == 2 and "truncated llama2.c" not in err and "not a checkpoint format" in err

"""Start-up cost: which modules a command imports (presence, not timing: timings live in
benchmarks/startup.py), and the lazy command table that keeps ``heredity --help`` from importing
every command."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.writers import save_safetensors
from heredity.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "models"

# imported only by the commands or formats that need them
HEAVY = ("scipy", "matplotlib", "torch", "gguf", "onnx", "huggingface_hub", "ml_dtypes", "rich.progress")


def imported_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Module names ``python -X importtime -m heredity ARGS`` imported, and the finished process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "heredity", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return names, proc


def loaded(names: set[str], root: str) -> list[str]:
    return sorted(n for n in names if n == root or n.startswith(root + "."))


def test_version_imports_neither_numpy_nor_any_command() -> None:
    names, proc = imported_by("--version")
    assert proc.returncode == 0 and "heredity, version" in proc.stdout
    assert len(names) > 20  # importtime output was parsed
    for root in (*HEAVY, "numpy", "rich", "heredity.cli.compare_cmd", "heredity.cli._output"):
        assert not loaded(names, root), f"--version imported {loaded(names, root)[:3]}"


def test_help_lists_commands_without_importing_them() -> None:
    names, proc = imported_by("--help")
    assert proc.returncode == 0
    for name in cli.lazy:  # type: ignore[attr-defined]
        assert name in proc.stdout
    assert not [n for n in names if n.endswith("_cmd")]
    for root in (*HEAVY, "numpy", "rich"):
        assert not loaded(names, root), f"--help imported {loaded(names, root)[:3]}"


@pytest.fixture(scope="module")
def bf16_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two bundled examples re-saved as bf16 (the common stored type), with their configs."""
    out = []
    for name in ("qwen2-base", "qwen2-moge-upcycled"):
        folder = tmp_path_factory.mktemp(name)
        with open_checkpoint(EXAMPLES / name) as ck:
            arrays = {t: ck.read(t) for t in ck.tensors}
        save_safetensors(arrays, folder / "model.safetensors", dtype="BF16")
        shutil.copy(EXAMPLES / name / "config.json", folder / "config.json")
        out.append(folder)
    return out[0], out[1]


def test_json_compare_imports_no_scipy_plotting_progress_or_ml_dtypes(bf16_pair: tuple[Path, Path]) -> None:
    names, proc = imported_by("compare", str(bf16_pair[0]), str(bf16_pair[1]), "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["verdict"] == "related"  # an upcycled pair: the compare really ran
    # the statistics a compare needs are computed without scipy; its assignment solver is only for
    # matching tests, which this pair (settled by `vectors`) never reaches
    for root in ("scipy", "matplotlib", "torch", "gguf", "onnx", "huggingface_hub", "ml_dtypes", "rich"):
        assert not loaded(names, root), f"compare --format json imported {loaded(names, root)[:3]}"
    # numpy.ma (np.unique's first call imports it, 15-25 ms) and tempfile (only for writing -o files)
    for root in ("numpy.ma", "tempfile"):
        assert not loaded(names, root), f"compare --format json imported {loaded(names, root)[:3]}"


def test_lazy_table_matches_the_command_modules() -> None:
    """Each entry names a module whose ``command`` has that name and that short help."""
    table = cli.lazy  # type: ignore[attr-defined]
    assert table and len(set(m for m, _ in table.values())) == len(table)
    for name, (module, short_help) in table.items():
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command) and command.name == name
        assert short_help == command.get_short_help_str(10_000), name


def test_lazy_help_equals_the_eager_listing() -> None:
    """``heredity --help`` from the table prints what click prints with every command loaded."""
    fresh = type(cli)("heredity", help=cli.help, params=cli.params)  # nothing loaded yet
    fresh.lazy.update(cli.lazy)  # type: ignore[attr-defined]
    lazy = fresh.get_help(click.Context(fresh, info_name="heredity"))
    assert not fresh.commands
    eager = click.Group("heredity", help=cli.help, params=cli.params)
    for name, (module, _) in cli.lazy.items():  # type: ignore[attr-defined]
        eager.add_command(importlib.import_module(module).command, name)
    assert lazy == eager.get_help(click.Context(eager, info_name="heredity"))

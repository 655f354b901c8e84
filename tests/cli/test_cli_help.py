"""Every option of every command says what it does, and usage errors exit 2."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from heredity.cli.main import cli, main


def _commands(group: click.Group, path: str = "heredity") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in group.commands.items():
        yield f"{path} {name}", cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{path} {name}")


def test_every_option_has_a_help_line() -> None:
    missing = [f"{path} {opt.opts[0]}" for path, cmd in _commands(cli) for opt in cmd.params
               if isinstance(opt, click.Option) and not (opt.help or "").strip()]
    assert missing == []


def test_every_command_has_a_docstring() -> None:
    assert [path for path, cmd in _commands(cli) if not (cmd.help or "").strip()] == []


@pytest.mark.parametrize("argv", [
    ["compare", "a", "b", "--seed", "-5"],
    ["compare", "a"],
    ["compare", "a", "b", "--format", "nope"],
    ["nosuchcommand"],
    ["forge", "train", "--seed", "-1", "-o", "x"],
    ["matrix"],
])
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("heredity: error:")


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0 and "compare" in capsys.readouterr().out
    assert main(["--version"]) == 0 and "heredity" in capsys.readouterr().out

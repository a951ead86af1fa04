"""``-h`` is ``--help`` on every command; the host flag has only its long form."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from modelyard.cli import main


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in group.commands.items():
        if isinstance(sub, click.Group):
            yield from _paths(sub, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = sorted(_paths(main))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "modelyard")
def test_dash_h_prints_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "-h"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: "), result.output
    assert "-h, --help" in result.output


def test_every_command_is_checked() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"serve", "server", "ui", "runs list", "pipelines run"} <= names


@pytest.mark.parametrize("name", ["serve", "server", "ui"])
def test_host_flag_has_only_its_long_form(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
    assert "--host TEXT" in result.output
    assert "-h, --host" not in result.output

"""``modelyard serve``: a model that cannot load, or a busy port, fails in one line before any address is announced."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli.conftest import assert_clean_error


def test_a_model_that_cannot_load_fails_before_the_address(cli, folder: Path) -> None:
    broken = folder / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text("flavors: [this is not a model\n")
    result = cli("serve", str(broken), "--port", "1")
    assert_clean_error(result, f"Cannot serve {broken}")
    assert "on http://" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_model_fails_before_the_address(cli) -> None:
    result = cli("serve", "models:/churn@champion", "--port", "1")
    assert_clean_error(result, "Cannot serve models:/churn@champion", "churn")
    assert "on http://" not in result.output


def test_a_busy_port_is_one_line_without_the_address(cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["serve", "models:/churn@champion"], ["ui"], ["server"]):
            result = cli(*args, "--port", str(port))
            assert_clean_error(result, f"Cannot listen on 127.0.0.1:{port}", "--port")
            assert "on http://" not in result.output
            assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("churn@champion", "write models:/churn@champion."),
        ("models:/churn:champion", "write models:/churn@champion."),
        ("model:/churn@champion", "write models:/churn@champion."),
        ("churn:3", "write models:/churn/3."),
        ("churn", "write models:/churn@ALIAS or models:/churn/VERSION."),
        ("models:churn", "write models:/churn@ALIAS or models:/churn/VERSION."),
        ("models:/churn/champion", "neither a version number, latest nor a stage (None, Staging, Production, "
                                   "Archived). For the alias 'champion' write models:/churn@champion."),
    ],
)
def test_a_mistyped_model_uri_suggests_the_registry_form(cli, folder: Path, typed: str, suggested: str) -> None:
    (folder / "x.csv").write_text("a\n1\n")
    for command in (["serve", typed, "--port", "1"], ["predict", typed, "--input", "x.csv", "--output", "y.csv"]):
        result = cli(*command)
        assert_clean_error(result, typed, suggested)
        assert str(folder) not in result.output  # no absolute folder named for what was not meant as a path

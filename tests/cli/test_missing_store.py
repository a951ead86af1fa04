"""Read-only commands never create a store: a missing one is an error naming where it was looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import assert_clean_error

READ_ONLY = [
    ["experiments", "list"],
    ["runs", "list", "--experiment-id", "0"],
    ["runs", "search"],
    ["runs", "show", "abc"],
    ["models", "list"],
    ["models", "search"],
    ["models", "show", "churn"],
    ["models", "versions", "churn"],
    ["webhooks", "list"],
    ["pipelines", "list"],
    ["pipelines", "cache", "list"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_the_default_store_is_not_created(cli, folder: Path, args: list[str]) -> None:
    result = cli(*args)
    assert_clean_error(result, f"No modelyard store at {folder / '.modelyard'}.", "--tracking-uri")
    assert not (folder / ".modelyard").exists()


def test_a_sqlite_uri_is_named_and_not_created(cli, folder: Path) -> None:
    uri = f"sqlite:///{folder / 'team.db'}"
    result = cli("runs", "search", "--tracking-uri", uri)
    assert_clean_error(result, f"No modelyard store at {uri}.")
    assert not (folder / "team.db").exists()


def test_a_folder_given_relative_is_named_absolute(cli, folder: Path) -> None:
    result = cli("experiments", "list", "--tracking-uri", "elsewhere")
    assert_clean_error(result, f"No modelyard store at {folder / 'elsewhere'}.")
    assert not (folder / "elsewhere").exists()


def test_an_existing_store_answers(cli, seeded) -> None:
    result = cli("experiments", "list")
    assert result.exit_code == 0, result.output
    assert "cancer" in result.output


def test_a_writing_command_still_creates_the_store(cli, folder: Path) -> None:
    result = cli("experiments", "create", "first")
    assert result.exit_code == 0, result.output
    assert (folder / ".modelyard" / "modelyard.db").exists()

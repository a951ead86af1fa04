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


def test_an_empty_answer_names_the_store_it_looked_in(cli, seeded, folder: Path) -> None:
    store = folder / ".modelyard"
    assert cli("experiments", "create", "empty-one").exit_code == 0
    result = cli("runs", "list", "--experiment-name", "empty-one")
    assert result.exit_code == 0 and result.output == f"No runs in experiment 'empty-one' of the store at {store}.\n"
    deleted = cli("experiments", "list", "--view", "deleted")
    assert deleted.output == f"No deleted experiments in the store at {store}.\n"
    unknown = cli("runs", "list", "--experiment-name", "nope")
    assert_clean_error(unknown, f"Experiment 'nope' does not exist in the store at {store}.")


def test_a_server_is_named_without_its_credentials() -> None:
    from modelyard.cli.output import store_name

    assert store_name("http://ana:s3cret@127.0.0.1:5000/base") == "http://127.0.0.1:5000/base"
    assert store_name("https://example.org") == "https://example.org"

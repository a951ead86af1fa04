"""``modelyard models ...`` with click's CliRunner over an embedded store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelyard.cli.models import command
from modelyard.client import Client
from modelyard.client.uri import set_tracking_uri
from tests.cli.conftest import assert_clean_error


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    for key in ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    set_tracking_uri(None)
    yield str(tmp_path / ".modelyard")
    set_tracking_uri(None)


@pytest.fixture
def seeded(store: str) -> Iterator[str]:
    """Model "fraud" with versions 1-3 (2 is champion, 3 in Production) and model "churn"."""
    with Client(store) as c:
        run_id = c.create_run("0").info.run_id
        c.create_registered_model("fraud", tags={"team": "risk"}, description="Detects fraud")
        for _ in range(3):
            c.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
        c.set_registered_model_alias("fraud", "champion", 2)
        c.transition_model_version_stage("fraud", 3, "Production")
        c.create_registered_model("churn")
    yield run_id


def cli(*args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[2:]]


def test_list_and_search(seeded: str) -> None:
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert [r[0] for r in _rows(listed.output)] == ["churn", "fraud"]
    assert _rows(listed.output)[1][1:3] == ["3", "champion=2"]
    page = json.loads(cli("list", "--max-results", "1", "--json").output)
    assert [m["name"] for m in page["registered_models"]] == ["churn"] and page["next_page_token"]
    assert [r[0] for r in _rows(cli("search", "--filter", "tags.team = 'risk'").output)] == ["fraud"]
    assert [r[0] for r in _rows(cli("search", "--order-by", "name DESC").output)] == ["fraud", "churn"]
    versions = json.loads(cli("search", "--versions", "--filter", "version_number >= 2", "--json").output)
    assert sorted(v["version"] for v in versions["model_versions"]) == ["2", "3"]
    assert cli("search", "--filter", "name = 'nope'").output == "No registered models.\n"
    assert_clean_error(cli("search", "--filter", "name >> 'x'"), "Invalid")


def test_show_and_versions(seeded: str) -> None:
    shown = cli("show", "fraud").output
    assert "description: Detects fraud" in shown
    assert _rows(shown.split("\nAliases\n")[1].split("\n\n")[0]) == [["champion", "2"]]
    assert json.loads(cli("show", "fraud", "--json").output)["aliases"] == [{"alias": "champion", "version": "2"}]
    rows = _rows(cli("versions", "fraud").output)
    assert [r[1] for r in rows] == ["3", "2", "1"] and rows[0][2] == "Production"
    assert [r[1] for r in _rows(cli("versions", "fraud", "--stage", "production").output)] == ["3"]
    assert_clean_error(cli("show", "nope"), "nope")
    assert_clean_error(cli("versions", "nope"), "nope")


def test_alias_and_stage(seeded: str, store: str) -> None:
    assert cli("alias", "set", "fraud", "champion", "3").output == "fraud@champion -> version 3.\n"
    assert json.loads(cli("alias", "set", "fraud", "challenger", "1", "--json").output)["aliases"] == ["challenger"]
    assert cli("alias", "delete", "fraud", "challenger").output == "Deleted alias fraud@challenger.\n"
    assert_clean_error(cli("alias", "set", "fraud", "latest", "1"), "reserved")
    out = cli("stage", "fraud", "2", "production", "--archive-existing")
    assert out.output == "fraud version 2 is now in Production.\n"
    with Client(store) as c:
        assert c.get_model_version("fraud", 3).current_stage == "Archived"
        assert c.get_registered_model("fraud").aliases == {"champion": "3"}
    assert cli("stage", "fraud", "2", "Live").exit_code == 2
    assert_clean_error(cli("stage", "fraud", "9", "Staging"), "version=9")


def test_audit(seeded: str) -> None:
    entries = json.loads(cli("audit", "fraud", "--json").output)["entries"]
    assert [e["action"] for e in entries][-2:] == ["set_registered_model_alias", "transition_model_version_stage"]
    table = cli("audit", "fraud").output
    assert "create_registered_model" in table and "Production" in table

from __future__ import annotations

import json
from pathlib import Path

from modelyard.client import Client

from .conftest import assert_clean_error


def test_create_list_delete(cli, client: Client) -> None:
    created = cli("experiments", "create", "cancer", "--tag", "team=ml")
    assert created.exit_code == 0, created.output
    experiment = client.get_experiment_by_name("cancer")
    assert experiment is not None and experiment.tags == {"team": "ml"}
    assert created.output == f"Created experiment 'cancer' with id {experiment.experiment_id}.\n"

    listed = cli("experiments", "list")
    header, _rule, *rows = listed.output.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STAGE"]
    assert [row.split()[:3] for row in rows] == [[experiment.experiment_id, "cancer", "active"], ["0", "Default", "active"]]

    deleted = cli("experiments", "delete", experiment.experiment_id)
    assert deleted.output == f"Deleted experiment {experiment.experiment_id}.\n"
    assert client.get_experiment(experiment.experiment_id).lifecycle_stage == "deleted"
    assert "cancer" not in cli("experiments", "list").output
    assert "cancer" in cli("experiments", "list", "--view", "deleted").output


def test_json_output(cli, client: Client) -> None:
    created = json.loads(cli("experiments", "create", "a", "--json").output)
    assert created == {"experiment_id": client.get_experiment_by_name("a").experiment_id}
    listed = json.loads(cli("experiments", "list", "--json", "--filter", "name = 'a'").output)
    assert [e["name"] for e in listed["experiments"]] == ["a"]
    assert listed["experiments"][0]["lifecycle_stage"] == "active"
    deleted = json.loads(cli("experiments", "delete", created["experiment_id"], "--json").output)
    assert deleted == {"experiment_id": created["experiment_id"], "lifecycle_stage": "deleted"}


def test_tracking_uri_option_picks_the_store(cli, folder: Path) -> None:
    other = folder / "elsewhere"
    assert cli("experiments", "create", "remote", "--tracking-uri", str(other)).exit_code == 0
    assert "remote" in cli("experiments", "list", "--tracking-uri", str(other)).output
    assert "remote" not in cli("experiments", "list").output


def test_sdk_errors_are_one_clean_line(cli) -> None:
    cli("experiments", "create", "dup")
    assert_clean_error(cli("experiments", "create", "dup"), "already exists")
    assert_clean_error(cli("experiments", "delete", "424242"), "424242")
    assert_clean_error(cli("experiments", "list", "--filter", "name = 'a' OR name = 'b'"))


def test_bad_tag_is_a_usage_error(cli) -> None:
    result = cli("experiments", "create", "x", "--tag", "no-equals-sign")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output

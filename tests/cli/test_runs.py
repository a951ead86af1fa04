from __future__ import annotations

import json
import socket
from contextlib import closing

from modelyard.client import Client

from .conftest import Seeded, assert_clean_error


def _rows(output: str) -> list[list[str]]:
    """The cells of a table's rows (under its header and rule)."""
    return [line.split() for line in output.splitlines()[2:]]


def test_list_by_id_and_by_name(cli, seeded: Seeded) -> None:
    by_id = cli("runs", "list", "--experiment-id", seeded.experiment_id)
    assert by_id.exit_code == 0, by_id.output
    by_name = cli("runs", "list", "--experiment-name", "cancer")
    assert by_name.output == by_id.output
    header = by_id.output.splitlines()[0].split()
    assert header[:2] == ["RUN", "ID"] and header[-2:] == ["acc", "f1"]
    rows = _rows(by_id.output)
    # Newest first; the latest metric values in their columns.
    assert [r[0] for r in rows] == [seeded.bad_id, seeded.good_id, seeded.parent_id]
    assert rows[1][1] == "good" and rows[1][-2:] == ["0.95", "0.93"]
    assert rows[1][-3] == seeded.parent_id[:8]


def test_list_json_and_pages(cli, seeded: Seeded) -> None:
    first = json.loads(cli("runs", "list", "--experiment-name", "cancer", "--max-results", "2", "--json").output)
    assert [r["info"]["run_name"] for r in first["runs"]] == ["bad", "good"]
    assert first["runs"][1]["data"]["params"] == [
        {"key": "n_neighbors", "value": "5"},
        {"key": "weights", "value": "uniform"},
    ]
    rest = cli(
        "runs", "list", "--experiment-name", "cancer", "--max-results", "2", "--page-token", first["next_page_token"]
    )
    assert [r[0] for r in _rows(rest.output)] == [seeded.parent_id]
    table = cli("runs", "list", "--experiment-name", "cancer", "--max-results", "2")
    assert f"--page-token {first['next_page_token']}" in table.stderr


def test_list_needs_one_experiment(cli, seeded: Seeded) -> None:
    assert cli("runs", "list").exit_code == 2
    assert cli("runs", "list", "--experiment-id", "1", "--experiment-name", "cancer").exit_code == 2
    assert_clean_error(cli("runs", "list", "--experiment-name", "nope"), "'nope' does not exist")
    assert_clean_error(cli("runs", "list", "--experiment-id", "424242"), "424242")
    assert_clean_error(cli("runs", "search", "--experiment-id", "424242"), "424242")


def test_search_filter_and_order(cli, seeded: Seeded) -> None:
    result = cli(
        "runs", "search", "--filter", "metrics.acc > 0.5 and params.weights = 'uniform'",
        "--order-by", "metrics.acc ASC", "--json",
    )
    assert result.exit_code == 0, result.output
    assert [r["info"]["run_id"] for r in json.loads(result.output)["runs"]] == [seeded.bad_id, seeded.good_id]
    # Without --experiment-*, every active experiment; the ordered metric comes first in the table.
    table = cli("runs", "search", "--filter", "tags.model = 'KNN'", "--order-by", "metrics.f1 DESC")
    assert table.output.splitlines()[0].split()[-2:] == ["f1", "acc"]
    assert [r[0] for r in _rows(table.output)] == [seeded.good_id, seeded.bad_id]
    by_name = cli("runs", "search", "--experiment-name", "cancer", "--filter", "params.n_neighbors = '1'")
    assert [r[0] for r in _rows(by_name.output)] == [seeded.bad_id]
    assert cli("runs", "search", "--filter", "metrics.acc > 2").output == "No runs.\n"


def test_search_bad_filter_is_a_clean_error(cli, seeded: Seeded) -> None:
    assert_clean_error(cli("runs", "search", "--filter", "metrics.acc >> 3"), "Invalid")
    assert_clean_error(cli("runs", "search", "--filter", "metrics.acc > 1 OR metrics.acc < 0"))
    assert_clean_error(cli("runs", "search", "--order-by", "metrics.acc SIDEWAYS"))
    assert_clean_error(cli("runs", "search", "--filter", "params.x = 'a'; DROP TABLE runs"))


def test_show(cli, seeded: Seeded) -> None:
    result = cli("runs", "show", seeded.good_id)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"run id:          {seeded.good_id}" in out
    assert f"parent run id:   {seeded.parent_id}" in out
    assert "status:          FINISHED" in out
    assert "duration:        1.0s" in out
    params = out.split("\nParams\n")[1].split("\n\n")[0]
    assert _rows(params) == [["n_neighbors", "5"], ["weights", "uniform"]]
    metrics = out.split("\nMetrics (latest)\n")[1].split("\n\n")[0]
    assert [r[:3] for r in _rows(metrics)] == [["acc", "0.95", "1"], ["f1", "0.93", "1"]]
    tags = out.split("\nTags\n")[1].split("\n\n")[0]
    assert [r[0] for r in _rows(tags)] == ["model", "mlflow.parentRunId", "mlflow.runName"]
    datasets = out.split("\nDatasets\n")[1]
    assert _rows(datasets) == [["breast-cancer", "abc123", "training", "code"]]


def test_show_json(cli, client: Client, seeded: Seeded) -> None:
    shown = json.loads(cli("runs", "show", seeded.good_id, "--json").output)
    assert shown == json.loads(json.dumps(client.get_run(seeded.good_id).to_dict()))
    assert shown["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "breast-cancer"


def test_unknown_run_is_a_clean_error(cli, seeded: Seeded) -> None:
    assert_clean_error(cli("runs", "show", "0123456789abcdef"), "0123456789abcdef")
    assert_clean_error(cli("runs", "delete", "0123456789abcdef"), "0123456789abcdef")


def test_delete(cli, client: Client, seeded: Seeded) -> None:
    result = cli("runs", "delete", seeded.bad_id, seeded.good_id)
    assert result.output == f"Deleted run {seeded.bad_id}.\nDeleted run {seeded.good_id}.\n"
    assert client.get_run(seeded.bad_id).info.lifecycle_stage == "deleted"
    assert [r[0] for r in _rows(cli("runs", "list", "--experiment-name", "cancer").output)] == [seeded.parent_id]
    deleted = cli("runs", "list", "--experiment-name", "cancer", "--view", "deleted", "--json")
    assert {r["info"]["run_id"] for r in json.loads(deleted.output)["runs"]} == {seeded.bad_id, seeded.good_id}
    assert json.loads(cli("runs", "delete", seeded.parent_id, "--json").output) == {"deleted_run_ids": [seeded.parent_id]}


def test_against_a_server(cli, sqlite_live_server) -> None:
    uri = ("--tracking-uri", sqlite_live_server.url)
    created = json.loads(cli("experiments", "create", "remote", "--json", *uri).output)
    with closing(Client(sqlite_live_server.url)) as c:
        run = c.create_run(created["experiment_id"], run_name="r1")
        c.log_metric(run.info.run_id, "acc", 0.5)
    listed = cli("runs", "list", "--experiment-name", "remote", *uri)
    assert _rows(listed.output)[0][:2] == [run.info.run_id, "r1"]
    metrics = cli("runs", "show", run.info.run_id, *uri).output.split("\nMetrics (latest)\n")[1]
    assert _rows(metrics)[0][:2] == ["acc", "0.5"]
    assert_clean_error(cli("runs", "show", "nope", *uri), "nope")


def test_unreachable_server_is_a_clean_error(cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert_clean_error(cli("experiments", "list", "--tracking-uri", f"http://127.0.0.1:{port}"), "Cannot reach")

"""``runs search`` whose filter names a metric or param no run has says so, with the closest names."""

from __future__ import annotations

from modelyard.client import Client

from .conftest import Seeded, assert_clean_error


def test_an_unknown_metric_names_the_closest(cli, seeded: Seeded) -> None:
    result = cli("runs", "search", "--experiment-name", "cancer", "--filter", "metrics.accuracy > 0.9")
    assert_clean_error(result, "No run in these experiments has a metric named 'accuracy'.", "metrics.acc")
    assert "No runs." not in result.output


def test_an_unknown_param_names_the_closest(cli, seeded: Seeded) -> None:
    result = cli("runs", "search", "--filter", "params.n_neighbours = '5' AND metrics.acc > 0.5")
    assert_clean_error(result, "has a param named 'n_neighbours'.", "Did you mean params.n_neighbors")  # the closest first
    assert "metric named" not in result.output  # acc is known


def test_known_names_that_match_nothing_still_answer_no_runs(cli, seeded: Seeded) -> None:
    result = cli("runs", "search", "--filter", "metrics.acc > 0.99 AND params.weights = 'distance'")
    assert result.exit_code == 0, result.output
    assert "No runs." in result.output


def test_a_name_only_in_runs_beyond_the_sample_is_known(cli, client: Client, seeded: Seeded, monkeypatch) -> None:
    import modelyard.service.search_hint as search_hint

    monkeypatch.setattr(search_hint, "SAMPLE_RUNS", 1)  # the newest run only: "rare" is found by its own query
    old = client.create_run(seeded.experiment_id, run_name="old", start_time=500).info.run_id
    client.log_metric(old, "rare", -1.0)
    client.log_param(old, "seed", "7")
    result = cli("runs", "search", "--filter", "metrics.rare > 5 AND params.seed = '8'")
    assert result.exit_code == 0, result.output
    assert "No runs." in result.output


def test_an_unknown_name_with_nothing_close(cli, seeded: Seeded) -> None:
    result = cli("runs", "search", "--filter", "metrics.zzz_latency < 3")
    assert_clean_error(result, "metric named 'zzz_latency'.")
    assert "Did you mean" not in result.output


def test_against_a_server(cli, sqlite_live_server) -> None:
    uri = ("--tracking-uri", sqlite_live_server.url)
    with Client(sqlite_live_server.url) as c:
        exp = c.create_experiment("hinted")
        c.log_metric(c.create_run(exp).info.run_id, "val_loss", 0.3)
    result = cli("runs", "search", "--experiment-name", "hinted", "--filter", "metrics.val_los < 1", *uri)
    assert_clean_error(result, "metric named 'val_los'.", "Did you mean metrics.val_loss?")

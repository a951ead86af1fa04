"""Fixtures for the CLI: a fresh embedded store in the current folder, a runner, a seeded store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelyard.cli import main
from modelyard.client import Client
from modelyard.client.uri import set_tracking_uri
from modelyard.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder whose ``./.modelyard`` is the SDK's default store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    set_tracking_uri(None)  # resolve again, from this folder
    yield tmp_path
    set_tracking_uri(None)


@pytest.fixture
def cli(folder: Path):  # type: ignore[no-untyped-def]
    """``cli("runs", "list", ...)`` runs the ``modelyard`` command in process."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def client(folder: Path) -> Iterator[Client]:
    c = Client(str(folder / ".modelyard"))
    yield c
    c.close()


@dataclass
class Seeded:
    experiment_id: str
    parent_id: str
    good_id: str
    bad_id: str


@pytest.fixture
def seeded(client: Client) -> Seeded:
    """Experiment "cancer": a parent run with two nested runs ("good" and "bad")."""
    exp = client.create_experiment("cancer")
    parent = client.create_run(exp, run_name="sweep", start_time=1_000).info.run_id
    ids = {}
    for start, (name, acc) in enumerate([("good", 0.95), ("bad", 0.61)], start=2):
        run = client.create_run(exp, run_name=name, start_time=start * 1_000, tags={"mlflow.parentRunId": parent})
        rid = ids[name] = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric("acc", acc - 0.1, 5_000, 0), Metric("acc", acc, 6_000, 1), Metric("f1", acc - 0.02, 6_000, 1)],
            params=[Param("n_neighbors", "5" if name == "good" else "1"), Param("weights", "uniform")],
            tags=[RunTag("model", "KNN")],
        )
        client.set_terminated(rid, end_time=(start + 1) * 1_000)
    client.log_inputs(
        ids["good"],
        [DatasetInput(Dataset("breast-cancer", "abc123", "code", "{}"), [InputTag("mlflow.data.context", "training")])],
    )
    return Seeded(exp, parent, ids["good"], ids["bad"])


def assert_clean_error(result: Result, *fragments: str) -> None:
    """A one-line ``Error: ...`` on stderr, exit code != 0, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]

"""``modelyard import mlflow``: progress, a summary, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modelyard import Client
from modelyard.cli import main
from modelyard.client.uri import set_tracking_uri

from .conftest import Installation


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A working folder whose ./.modelyard is the default target."""
    monkeypatch.chdir(tmp_path)
    for name in ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    set_tracking_uri(None)
    yield tmp_path
    set_tracking_uri(None)


def test_import_into_the_default_store_then_again(mlflow_install: Installation, here: Path) -> None:
    args = ["import", "mlflow", mlflow_install.db_uri, "--source-artifacts", mlflow_install.artifacts]
    sliced = CliRunner().invoke(main, [*args, "--max-runs", "1"])
    assert sliced.exit_code == 0, sliced.output
    assert "  1 runs" in sliced.stdout and "--max-runs" in sliced.stdout

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Importing from sqlite:///" in first.stderr and "6 runs." in first.stderr
    assert "6/6 runs" in first.stderr  # plain progress lines when not a terminal
    assert "  5 runs" in first.stdout and "  2 model versions" in first.stdout
    assert "  1 runs: already imported" in first.stdout

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.stdout and "  6 runs: already imported" in again.stdout
    with Client(str(here / ".modelyard")) as target:
        assert [e.name for e in target.search_experiments()] == ["import-sweep", "Default"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("mlflow.db", "neither a tracking server"),
        ("sqlite:///{here}/empty.db", "holds no MLflow tracking tables"),
    ],
)
def test_a_source_that_is_not_mlflow_is_one_clear_line(here: Path, source: str, message: str) -> None:
    result = CliRunner().invoke(main, ["import", "mlflow", source.format(here=here), "--to", str(here / "store")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_the_source_is_never_its_own_target(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = f"sqlite:///{here}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", source)  # the MLflow user's environment, still pointing at MLflow
    set_tracking_uri(None)
    result = CliRunner().invoke(main, ["import", "mlflow", source])
    assert result.exit_code == 2
    assert "same store" in result.output and "--to" in result.output
    assert not (here / "mlflow.db").exists()

"""Fixtures for driving a live ``modelyard server`` with the official ``mlflow`` client.

Tested against ``mlflow-skinny==3.17.2`` (pinned in pyproject's ``test`` extra).
Each module shares one server per database (SQLite, PostgreSQL); tests keep out
of each other's way by working in experiments with unique names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, serving
from tests.mlflow_support import (  # noqa: F401  (re-exported for the test modules)
    MLFLOW_VERSION,
    assert_error,
    ignore_third_party_warnings,
    mlflow_client_env,
    mlflow_client_on,
    reset_fluent_state,
    unique,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ignore_third_party_warnings(items, os.path.dirname(__file__))


@pytest.fixture(scope="session", autouse=True)
def _mlflow_env() -> Iterator[None]:
    import mlflow

    assert mlflow.__version__ == MLFLOW_VERSION, f"compat tests pin mlflow-skinny=={MLFLOW_VERSION}"
    with mlflow_client_env():
        yield


def start_server(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server over a fresh database of kind ``db`` ("sqlite" or "postgresql")."""
    with serving(db, tmp_path_factory.mktemp(f"compat-{db}")) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per module and database, shared by the module's tests."""
    yield from start_server(request.param, tmp_path_factory)


@pytest.fixture
def client(server: LiveServer) -> Iterator[Any]:
    """An ``MlflowClient`` on ``server``; the fluent API points there too."""
    with mlflow_client_on(server.url) as client:
        yield client


@pytest.fixture(scope="module")
def sync_trace_export() -> Iterator[None]:
    """The official client logs traces synchronously in this module: a trace is on the server when the traced
    call returns (``pytestmark = pytest.mark.usefixtures("sync_trace_export")``)."""
    old = os.environ.get("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    yield
    if old is None:
        os.environ.pop("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")
    else:
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = old


@pytest.fixture
def exp(client: Any) -> Iterator[str]:
    """A new experiment, made the fluent API's active one for the test (``Default`` again after)."""
    import mlflow

    experiment = mlflow.set_experiment(unique("exp"))
    yield str(experiment.experiment_id)
    mlflow.set_experiment("Default")


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP to ``server``."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An ``MlflowClient`` over MLflow's own SQLite store, in process: the oracle.

    The same calls made here and against our server must give the same answers.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-reference") / "mlflow.db"
    return MlflowClient(f"sqlite:///{path}")

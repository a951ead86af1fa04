"""Fixtures for driving a live ``modelyard server`` with the official ``mlflow`` client.

Tested against ``mlflow-skinny==3.17.2`` (pinned in pyproject's ``test`` extra).
Each module shares one server per database (SQLite, PostgreSQL); tests keep out
of each other's way by working in experiments with unique names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:
    from tests.conftest import POSTGRES_ENV, LiveServer, _fresh_postgres_db
except ImportError:  # plain `pytest` without the repo root on sys.path
    from conftest import POSTGRES_ENV, LiveServer, _fresh_postgres_db  # type: ignore[no-redef]

MLFLOW_VERSION = "3.17.2"

# Warnings raised by mlflow and scikit-learn internals, not by our code.
_IGNORED_WARNINGS = (
    "ignore::UserWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    "ignore::FutureWarning:sklearn.*",
    "ignore::UserWarning:sklearn.*",
    "ignore::UserWarning:pydantic.*",
    "ignore::UserWarning:matplotlib.*",
    "ignore::RuntimeWarning:sklearn.*",
)

# Fail fast: the client must not retry or wait a minute on a broken server.
_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            for spec in _IGNORED_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session", autouse=True)
def _mlflow_env() -> Iterator[None]:
    import mlflow

    assert mlflow.__version__ == MLFLOW_VERSION, f"compat tests pin mlflow-skinny=={MLFLOW_VERSION}"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _CLIENT_ENV.items():
            mp.setenv(key, value)
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
            mp.delenv(key, raising=False)
        yield


def start_server(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server over a fresh database of kind ``db`` ("sqlite" or "postgresql")."""
    tmp = tmp_path_factory.mktemp(f"compat-{db}")
    pg: Iterator[str] | None = None
    if db == "sqlite":
        uri = f"sqlite:///{tmp / 'modelyard.db'}"
    else:
        admin = os.environ.get(POSTGRES_ENV)
        if not admin:
            if os.environ.get("CI"):
                pytest.fail(f"{POSTGRES_ENV} is not set in CI; PostgreSQL tests must not be skipped")
            pytest.skip(f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres")
        pg = _fresh_postgres_db(admin)
        uri = next(pg)
    server = LiveServer(uri, str(tmp / "artifacts"))
    server.root = str(tmp)  # type: ignore[attr-defined]  # the store and the artifacts live below
    try:
        yield server
    finally:
        server.stop()
        if pg is not None:
            pg.close()  # drops the database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per module and database, shared by the module's tests."""
    yield from start_server(request.param, tmp_path_factory)


def reset_fluent_state() -> None:
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None


@pytest.fixture
def client(server: LiveServer) -> Iterator[Any]:
    """An ``MlflowClient`` on ``server``; the fluent API points there too."""
    import mlflow
    from mlflow import MlflowClient

    reset_fluent_state()
    mlflow.set_tracking_uri(server.url)
    try:
        yield MlflowClient(server.url)
    finally:
        reset_fluent_state()
        mlflow.set_tracking_uri(None)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP to ``server``."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_error(response: httpx.Response, status: int, code: str, *, mentions: str | None = None) -> dict:
    """An MLflow-style error body with ``code`` and HTTP ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    if mentions is not None:
        assert mentions in body["message"], body
    return body


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An ``MlflowClient`` over MLflow's own SQLite store, in process: the oracle.

    The same calls made here and against our server must give the same answers.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-reference") / "mlflow.db"
    return MlflowClient(f"sqlite:///{path}")

"""Fixtures for logged models: one live server per module and database, driven by the official client.

Tested against ``mlflow-skinny==3.17.2``. Tests share the module's server and
keep out of each other's way by working in experiments with unique names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_ENV, LiveServer, _fresh_postgres_db

# Warnings raised inside mlflow and scikit-learn, not by our code.
_IGNORED_WARNINGS = (
    "ignore::UserWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    "ignore::FutureWarning:sklearn.*",
    "ignore::UserWarning:sklearn.*",
    "ignore::UserWarning:pydantic.*",
    "ignore::RuntimeWarning:sklearn.*",
)
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


@pytest.fixture(scope="module")
def _mlflow_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _CLIENT_ENV.items():
            mp.setenv(key, value)
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
            mp.delenv(key, raising=False)
        yield


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per module and database, shared by the module's tests."""
    tmp = tmp_path_factory.mktemp(f"logged-models-{request.param}")
    pg: Iterator[str] | None = None
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp / 'modelyard.db'}"
    else:
        admin = os.environ.get(POSTGRES_ENV)
        if not admin:
            if os.environ.get("CI"):
                pytest.fail(f"{POSTGRES_ENV} is not set in CI; PostgreSQL tests must not be skipped")
            pytest.skip(f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres")
        pg = _fresh_postgres_db(admin)
        uri = next(pg)
    live = LiveServer(uri, str(tmp / "artifacts"))
    try:
        yield live
    finally:
        live.stop()
        if pg is not None:
            pg.close()  # drops the database


def _reset_fluent_state() -> None:
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None


@pytest.fixture
def client(server: LiveServer, _mlflow_env: None) -> Iterator[Any]:
    """An ``MlflowClient`` on ``server``; the fluent API points there too."""
    import mlflow
    from mlflow import MlflowClient

    _reset_fluent_state()
    mlflow.set_tracking_uri(server.url)
    try:
        yield MlflowClient(server.url)
    finally:
        _reset_fluent_state()
        mlflow.set_tracking_uri(None)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def experiment_id(client: Any) -> str:
    return client.create_experiment(unique("lm"))  # type: ignore[no-any-return]


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_error(response: httpx.Response, status: int, code: str, *, mentions: str | None = None) -> dict:
    """An MLflow-style error body with ``code`` and HTTP ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code, body
    if mentions is not None:
        assert mentions in body["message"], body
    return body

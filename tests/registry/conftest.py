"""Fixtures for the registry: a module-wide live server per database, the official client on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import POSTGRES_ENV, LiveServer, _fresh_postgres_db

# Fail fast: the official client must not retry or wait on a broken server.
_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def unique(prefix: str = "model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per test module and database, shared by the module's tests."""
    tmp = tmp_path_factory.mktemp(f"registry-{request.param}")
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


@pytest.fixture
def mlflow_client(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``mlflow.MlflowClient`` on the module's server."""
    from mlflow import MlflowClient

    for key, value in _CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=server.url)

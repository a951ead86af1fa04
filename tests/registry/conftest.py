"""Fixtures for the registry: a module-wide live server per database, the official client on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, serving
from tests.mlflow_support import CLIENT_ENV


def unique(prefix: str = "model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per test module and database, shared by the module's tests."""
    with serving(request.param, tmp_path_factory.mktemp(f"registry-{request.param}")) as live:
        yield live


@pytest.fixture
def mlflow_client(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``mlflow.MlflowClient`` on the module's server."""
    from mlflow import MlflowClient

    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=server.url)

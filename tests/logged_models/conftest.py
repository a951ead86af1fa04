"""Fixtures for logged models: one live server per module and database, driven by the official client.

Tested against ``mlflow-skinny==3.17.2``. Tests share the module's server and
keep out of each other's way by working in experiments with unique names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, serving
from tests.mlflow_support import (  # noqa: F401  (re-exported for the test modules)
    assert_error,
    ignore_third_party_warnings,
    mlflow_client_env,
    mlflow_client_on,
    reset_fluent_state,
    unique,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ignore_third_party_warnings(items, os.path.dirname(__file__))


@pytest.fixture(scope="module")
def _mlflow_env() -> Iterator[None]:
    with mlflow_client_env():
        yield


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per module and database, shared by the module's tests."""
    with serving(request.param, tmp_path_factory.mktemp(f"logged-models-{request.param}")) as live:
        yield live


@pytest.fixture
def client(server: LiveServer, _mlflow_env: None) -> Iterator[Any]:
    """An ``MlflowClient`` on ``server``; the fluent API points there too."""
    with mlflow_client_on(server.url) as client:
        yield client


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def experiment_id(client: Any) -> str:
    return client.create_experiment(unique("lm"))  # type: ignore[no-any-return]

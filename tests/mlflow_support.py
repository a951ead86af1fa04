"""Shared pieces for tests that drive our server with the official ``mlflow`` client."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

MLFLOW_VERSION = "3.17.2"

# Warnings raised inside mlflow and third-party libraries, not by our code.
THIRD_PARTY_WARNINGS = (
    "ignore::UserWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    "ignore::FutureWarning:sklearn.*",
    "ignore::UserWarning:sklearn.*",
    "ignore::UserWarning:pydantic.*",
    "ignore::UserWarning:matplotlib.*",
    "ignore::RuntimeWarning:sklearn.*",
)

# Fail fast: the client must not retry or wait a minute on a broken server.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


def ignore_third_party_warnings(items: list[pytest.Item], folder: str) -> None:
    """Mark the tests below ``folder`` to ignore :data:`THIRD_PARTY_WARNINGS`."""
    for item in items:
        if str(item.fspath).startswith(folder):
            for spec in THIRD_PARTY_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@contextlib.contextmanager
def mlflow_client_env() -> Iterator[None]:
    """:data:`CLIENT_ENV` set and MLflow's run/experiment variables cleared, for a block."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in CLIENT_ENV.items():
            mp.setenv(key, value)
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
            mp.delenv(key, raising=False)
        yield


def reset_fluent_state() -> None:
    """End MLflow's active runs and forget its active experiment."""
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None


@contextlib.contextmanager
def mlflow_client_on(url: str) -> Iterator[Any]:
    """An ``MlflowClient`` on ``url`` with the fluent API pointed there too; reset after."""
    import mlflow
    from mlflow import MlflowClient

    reset_fluent_state()
    mlflow.set_tracking_uri(url)
    try:
        yield MlflowClient(url)
    finally:
        reset_fluent_state()
        mlflow.set_tracking_uri(None)


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


"""Fixtures for the model packaging tests: an embedded tracking store, sample data."""

from __future__ import annotations

import pandas as pd
import pytest

import modelyard as my
from tests.conftest import migrated_sqlite


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """An embedded store in tmp_path, made the SDK's tracking URI."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    migrated_sqlite(tmp_path / "store" / "modelyard.db")  # the folder store's database, at the newest schema
    my.set_tracking_uri(str(tmp_path / "store"))
    yield tmp_path / "store"
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"radius": [1.0, 2.5, 3.0, 4.5, 5.0, 0.5], "count": [0, 1, 0, 1, 1, 0]})


@pytest.fixture
def labels() -> list[int]:
    return [0, 1, 0, 1, 1, 0]


@pytest.fixture
def allow_mlflow_pickle(monkeypatch):
    """MLflow 3.17 refuses to deserialize any sklearn/pyfunc model (skops included) without this."""
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


def has_registry() -> bool:
    return all(hasattr(my.Client, m) for m in ("create_registered_model", "create_model_version", "get_model_version"))


needs_registry = pytest.mark.xfail(
    not has_registry(),
    reason="the registry Client methods (create_registered_model, create_model_version, "
    "get_model_version[_by_alias]) are being built in modelyard/client/registry.py",
    strict=False,
)

"""One MLflow installation per session, built by the official client; each test imports from a copy."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.importer.compare")

from tests.conftest import fresh_database  # noqa: E402
from tests.mlflow_support import ignore_third_party_warnings, mlflow_client_env, reset_fluent_state  # noqa: E402

from .populate import Built, populate  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ignore_third_party_warnings(items, os.path.dirname(__file__))


@pytest.fixture(scope="session")
def _mlflow_env() -> Iterator[None]:
    with mlflow_client_env():
        yield


@dataclass
class Installation:
    """An MLflow database with its artifacts, and what is in it."""

    db_uri: str
    artifacts: str
    built: Built


@pytest.fixture(scope="session")
def _pristine(_mlflow_env: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    folder = tmp_path_factory.mktemp("mlflow-pristine")
    with warnings.catch_warnings():  # MLflow's own deprecation notices (stages) while building the data
        warnings.simplefilter("ignore")
        built = populate(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"))
    reset_fluent_state()
    return folder, built


@pytest.fixture
def mlflow_install(_pristine: tuple[Path, Built], tmp_path: Path) -> Installation:
    """A private copy of the session's MLflow installation (its artifact paths are absolute, so shared read-only)."""
    folder, built = _pristine
    shutil.copy(folder / "mlflow.db", tmp_path / "mlflow.db")
    return Installation(f"sqlite:///{tmp_path / 'mlflow.db'}", str(folder / "artifacts"), built)


@pytest.fixture(params=["sqlite", "postgresql"])
def target_uri(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty modelyard store on SQLite or PostgreSQL (artifacts in the test's folder)."""
    monkeypatch.setenv("MODELYARD_ARTIFACTS_DESTINATION", str(tmp_path / "target-artifacts"))
    with fresh_database(request.param, tmp_path / "target") as uri:
        (tmp_path / "target").mkdir(exist_ok=True)
        yield uri

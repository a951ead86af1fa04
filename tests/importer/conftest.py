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


def _build(db_uri: str, artifacts: Path) -> Installation:
    with warnings.catch_warnings():  # MLflow's own deprecation notices (stages) while building the data
        warnings.simplefilter("ignore")
        built = populate(db_uri, str(artifacts))
    reset_fluent_state()
    return Installation(db_uri, str(artifacts), built)


@pytest.fixture(scope="session")
def _sqlite_install(_mlflow_env: None, tmp_path_factory: pytest.TempPathFactory) -> Installation:
    folder = tmp_path_factory.mktemp("mlflow-sqlite")
    return _build(f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts")


@pytest.fixture(scope="session")
def _postgresql_install(_mlflow_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """MLflow on PostgreSQL, read only by the tests (the importer never writes to its source)."""
    folder = tmp_path_factory.mktemp("mlflow-postgresql")
    with fresh_database("postgresql", folder) as uri:
        yield _build(uri.replace("postgresql://", "postgresql+psycopg://", 1), folder / "artifacts")


@pytest.fixture
def mlflow_install(_sqlite_install: Installation, tmp_path: Path) -> Installation:
    """A private copy of the session's MLflow database on SQLite (artifacts shared: nothing writes there)."""
    shutil.copy(_sqlite_install.db_uri[len("sqlite:///"):], tmp_path / "mlflow.db")
    return Installation(f"sqlite:///{tmp_path / 'mlflow.db'}", _sqlite_install.artifacts, _sqlite_install.built)


@pytest.fixture(params=["sqlite", "postgresql"])
def install_and_target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Installation, str]]:
    """MLflow on SQLite or PostgreSQL, and an empty modelyard store on the same database (artifacts in tmp)."""
    install = request.getfixturevalue(f"_{request.param}_install")
    monkeypatch.setenv("MODELYARD_ARTIFACTS_DESTINATION", str(tmp_path / "target-artifacts"))
    (tmp_path / "target").mkdir()
    with fresh_database(request.param, tmp_path / "target") as uri:
        yield install, uri

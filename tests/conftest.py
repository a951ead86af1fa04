"""Shared fixtures: stores on SQLite and PostgreSQL, an in-process app, a live server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "MODELYARD_TEST_POSTGRES_URL"


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database URI: SQLite in ``folder``, or a new PostgreSQL database (dropped after).

    PostgreSQL skips without MODELYARD_TEST_POSTGRES_URL, except in CI, where a
    missing PostgreSQL is a failure.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'modelyard.db'}"
        return
    admin = _postgres_admin_url()
    if not admin:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI; PostgreSQL tests must not be skipped")
        pytest.skip(f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres to run PostgreSQL tests")
    yield from _fresh_postgres_db(admin)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URI on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as uri:
        yield uri


def _fresh_postgres_db(admin_uri: str) -> Iterator[str]:
    name = f"modelyard_test_{uuid.uuid4().hex[:12]}"
    admin_url = admin_uri.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_uri.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real ``modelyard server`` subprocess on 127.0.0.1 (it inherits this process's env).

    ``artifacts`` is the ``--artifacts-destination`` (a path or s3://…), or None to
    pass only ``extra`` flags; ``cwd`` is where a default ./.modelyard/ would land.
    """

    def __init__(self, backend_store_uri: str, artifacts: str | None, *extra: str, cwd: str | None = None) -> None:
        import subprocess
        import sys
        import tempfile

        self.log = tempfile.NamedTemporaryFile(prefix="modelyard-server-", suffix=".log", delete=False)  # noqa: SIM115
        destination = ["--artifacts-destination", artifacts] if artifacts else []
        for _attempt in range(3):  # another test may grab the free port first
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "modelyard.cli", "server",
                    "--backend-store-uri", backend_store_uri, *destination,
                    "--port", str(self.port), *extra,
                ],
                stdout=self.log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
            )
            if self._wait():
                return
        raise RuntimeError(f"server could not bind a port; see {self.log.name}")

    def _wait(self) -> bool:
        """True once our process answers /health; False if it lost its port to another."""
        import time

        import httpx

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log.name, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                if "address already in use" in text.lower():
                    return False
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    time.sleep(0.2)  # a server that lost the port exits right after binding fails
                    if self.proc.poll() is None:
                        return True
                    continue
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start within 90 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
        self.log.close()


@contextlib.contextmanager
def serving(kind: str, folder: Path) -> Iterator[LiveServer]:
    """A server over a fresh ``kind`` database, its store and artifacts below ``folder``."""
    with fresh_database(kind, folder) as uri:
        server = LiveServer(uri, str(folder / "artifacts"))
        server.root = str(folder)  # type: ignore[attr-defined]
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def live_server(db_uri: str, tmp_path) -> Iterator[LiveServer]:
    """A server subprocess over a fresh store (SQLite and PostgreSQL)."""
    server = LiveServer(db_uri, str(tmp_path / "artifacts"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqlite_live_server(tmp_path) -> Iterator[LiveServer]:
    """A server subprocess over a fresh SQLite store only."""
    server = LiveServer(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "artifacts"))
    try:
        yield server
    finally:
        server.stop()


def make_service(db_uri: str, tmp_path, **settings: Any):
    """A TrackingService over the store at ``db_uri`` with embedded artifacts under ``tmp_path``."""
    from modelyard.service import TrackingService
    from modelyard.settings import Settings

    return TrackingService(
        Settings(
            backend_store_uri=db_uri,
            artifacts_destination=str(tmp_path / "artifacts"),
            default_artifact_root=str(tmp_path / "artifacts"),
            serve_artifacts=False,
            **settings,
        )
    )


@pytest.fixture
def service(db_uri: str, tmp_path):
    """A TrackingService over a fresh store (SQLite and PostgreSQL), embedded artifacts."""
    svc = make_service(db_uri, tmp_path)
    yield svc
    svc.close()


_EXPORTED_BY_MLFLOW = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture(autouse=True, scope="module")
def _no_leaked_experiment_env_per_module() -> Iterator[None]:
    """``mlflow.set_experiment`` exports MLFLOW_EXPERIMENT_ID; clear it before a module's fixtures run."""
    for var in _EXPORTED_BY_MLFLOW:
        os.environ.pop(var, None)
    yield
    for var in _EXPORTED_BY_MLFLOW:
        os.environ.pop(var, None)


@pytest.fixture(autouse=True)
def _no_leaked_experiment_env(monkeypatch):
    """The same between the tests of a module."""
    for var in _EXPORTED_BY_MLFLOW:
        monkeypatch.delenv(var, raising=False)

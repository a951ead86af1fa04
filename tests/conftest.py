"""Shared fixtures: stores on SQLite and PostgreSQL, an in-process app, a live server."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

POSTGRES_ENV = "MODELYARD_TEST_POSTGRES_URL"


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path, *, migrated: bool = False) -> Iterator[str]:
    """A fresh database URI: SQLite in ``folder``, or a new PostgreSQL database (dropped after).

    Empty by default; with ``migrated=True`` it is a copy of a template migrated to the
    newest schema once per test process (no rows), which costs a file copy on SQLite and a
    ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL instead of every migration again.

    PostgreSQL skips without MODELYARD_TEST_POSTGRES_URL, except in CI, where a
    missing PostgreSQL is a failure.
    """
    if kind == "sqlite":
        path = folder / "modelyard.db"
        yield migrated_sqlite(path) if migrated else f"sqlite:///{path}"
        return
    admin = _postgres_admin_url()
    if not admin:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI; PostgreSQL tests must not be skipped")
        pytest.skip(f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres to run PostgreSQL tests")
    yield from _fresh_postgres_db(admin, template=_TEMPLATES.postgresql(admin) if migrated else None)


def migrated_sqlite(path: Path) -> str:
    """``sqlite:///<path>``, a new SQLite store at the newest schema (no rows), copied from this process's template."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATES.sqlite(), path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store at the newest schema, without rows, on SQLite and on PostgreSQL.

    Copied from a template migrated once per test process (``fresh_database(migrated=True)``);
    a test of the migrations themselves takes ``empty_db_uri``.
    """
    with fresh_database(request.param, tmp_path, migrated=True) as uri:
        yield uri


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URI (no tables) on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as uri:
        yield uri


def _admin_engine(admin_uri: str) -> Engine:
    return create_engine(admin_uri.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def _fresh_postgres_db(admin_uri: str, template: str | None = None) -> Iterator[str]:
    name = f"{_PG_PREFIX}_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(admin_uri)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    base = admin_uri.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _DROPPER.drop(admin_uri, name)


# Every database this process creates starts with this prefix: its name tells whose it is.
_PG_PREFIX = f"modelyard_test_{os.getpid()}"


class _Templates:
    """One database per kind migrated to the newest schema, made on first use in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sqlite: Path | None = None
        self._pg: tuple[str, str] | None = None  # (admin URI, database name)

    def sqlite(self) -> Path:
        with self._lock:
            if self._sqlite is None:
                from modelyard.store.engine import make_engine
                from modelyard.store.migrate import migrate

                path = Path(tempfile.mkdtemp(prefix="modelyard-template-")) / "modelyard.db"
                engine = make_engine(f"sqlite:///{path}")
                migrate(engine)
                engine.dispose()
                with contextlib.closing(sqlite3.connect(path)) as conn:  # fold the WAL into the file we copy
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._sqlite = path
            return self._sqlite

    def postgresql(self, admin_uri: str) -> str:
        with self._lock:
            if self._pg is None:
                from modelyard.store.engine import make_engine
                from modelyard.store.migrate import migrate

                name = f"{_PG_PREFIX}_template"
                admin = _admin_engine(admin_uri)
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                self._pg = (admin_uri, name)
                engine = make_engine(f"{admin_uri.rsplit('/', 1)[0]}/{name}")
                migrate(engine)
                engine.dispose()  # a template takes no connections while it is copied
            return self._pg[1]

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                shutil.rmtree(self._sqlite.parent, ignore_errors=True)
                self._sqlite = None
            if self._pg is not None:
                _DROPPER.drop(*self._pg)
                self._pg = None


class _Dropper:
    """Drops PostgreSQL databases on a background thread: a DROP DATABASE waits on a checkpoint,
    which the next test need not wait for. ``join`` waits for every drop asked so far."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def drop(self, admin_uri: str, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-test-databases", daemon=True)
            self._thread.start()
        self._queue.put((admin_uri, name))

    def _run(self) -> None:
        engines: dict[str, Engine] = {}
        while (item := self._queue.get()) is not None:
            admin_uri, name = item
            try:
                if admin_uri not in engines:
                    engines[admin_uri] = _admin_engine(admin_uri)
                engine = engines[admin_uri]
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:  # noqa: BLE001  (a database left behind is reported, not fatal)
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)
        for engine in engines.values():
            engine.dispose()

    def join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(300)
            self._thread = None


_TEMPLATES = _Templates()
_DROPPER = _Dropper()


@pytest.fixture(scope="session", autouse=True)
def _database_templates() -> Iterator[None]:
    """Drop this process's template databases and wait for the queued drops at the end of the session."""
    yield
    _TEMPLATES.close()
    _DROPPER.join()


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
    """A server over a fresh ``kind`` store (at the newest schema), its store and artifacts below ``folder``."""
    with fresh_database(kind, folder, migrated=True) as uri:
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
    server = LiveServer(migrated_sqlite(tmp_path / "server.db"), str(tmp_path / "artifacts"))
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


# scripts/test.sh runs the suite on two pytest-xdist workers with ``--dist loadfile``: a module's tests run
# on one worker, so its module-scoped servers and browsers start once. A folder named here goes to one
# worker as a whole, for its session-scoped fixtures (the MLflow installations the importer reads).
_WHOLE_FOLDERS = ("tests/importer/",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ByModule(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return next((folder for folder in _WHOLE_FOLDERS if module.startswith(folder)), module)

    return ByModule(config, log)

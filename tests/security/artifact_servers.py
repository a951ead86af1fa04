"""A live server whose database the artifact security tests also reach directly, to plant rows as an
older server (before locations were checked) would have stored them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import LiveServer, fresh_database

# In the server's environment only: no response may ever carry it (file:///proc/self#, environ).
SECRET = f"modelyard-secret-{uuid.uuid4().hex}"
SECRET_VAR = "MODELYARD_TEST_ARTIFACT_SECRET"
PASSWD_MARK = b"root:x:0:0"  # the first line of /etc/passwd


@dataclass
class StoreServer:
    server: LiveServer
    db_uri: str
    root: Path  # holds the database (SQLite) and the artifacts destination (root / "artifacts")
    http: httpx.Client

    def sql(self, statement: str, **params: Any) -> None:
        """Run one statement on the server's database, as a pre-fix server or an operator could have."""
        url = self.db_uri.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"/api/2.0/mlflow{path}", **kwargs)

    def new_experiment(self) -> str:
        r = self.api("POST", "/experiments/create", json={"name": f"sec-{uuid.uuid4().hex[:10]}"})
        assert r.status_code == 200, r.text
        return str(r.json()["experiment_id"])

    def new_run(self, experiment_id: str) -> dict[str, Any]:
        r = self.api("POST", "/runs/create", json={"experiment_id": experiment_id})
        assert r.status_code == 200, r.text
        return dict(r.json()["run"]["info"])


@contextlib.contextmanager
def store_server(kind: str, folder: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[StoreServer]:
    """A server over a fresh ``kind`` database, with :data:`SECRET` (and ``env``) in its environment."""
    with fresh_database(kind, folder) as uri, pytest.MonkeyPatch.context() as mp:
        for key, value in {SECRET_VAR: SECRET, **(env or {})}.items():
            mp.setenv(key, value)
        server = LiveServer(uri, str(folder / "artifacts"), *extra)
        mp.undo()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                yield StoreServer(server, uri, folder, http)
        finally:
            server.stop()


def assert_nothing_leaked(response: httpx.Response, *paths: str) -> None:
    """No byte of /etc/passwd, of the server's environment, or of a server path in ``response``."""
    assert PASSWD_MARK not in response.content, response.text[:300]
    assert SECRET.encode() not in response.content, response.text[:300]
    for path in paths:
        assert path.encode() not in response.content, (path, response.text[:300])


def assert_refused(response: httpx.Response, status: int, code: str, *paths: str) -> dict[str, Any]:
    """An MLflow-style JSON error with ``status`` and ``code`` that gives nothing away."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert body["error_code"] == code, body
    assert body["message"], body
    assert_nothing_leaked(response, *paths)
    return dict(body)

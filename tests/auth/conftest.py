"""Shared fixtures of the auth tests: a live ``modelyard server --auth`` and the official client run against it."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from unittest import mock

import httpx
import pytest

from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
AUTH_ENV = {"MODELYARD_AUTH_ADMIN_USERNAME": "root", "MODELYARD_AUTH_ADMIN_PASSWORD": PASSWORD,
            "MODELYARD_AUTH_CACHE_SECONDS": "0", "MODELYARD_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"}


@contextlib.contextmanager
def auth_server(backend_store_uri: str, artifacts: str, *extra: str) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """A live server with ``--auth`` (admin ``root``, no cache, NO_PERMISSIONS by default) and an admin client."""
    with mock.patch.dict(os.environ, AUTH_ENV):  # the server process inherits them
        live = LiveServer(backend_store_uri, artifacts, "--auth", *extra)
    try:
        with httpx.Client(base_url=live.url, auth=("root", PASSWORD)) as root:
            yield live, root
    finally:
        live.stop()


def run_mlflow(server: LiveServer, code: str, user: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``code`` run by the official mlflow client as ``user`` (Basic), in a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELYARD_"))}
    clean.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=PASSWORD)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=timeout)


TEAMS = ("dev", "prod")


def each_team_runs(server: LiveServer, code: str) -> dict[str, str]:
    """``code`` run by the official client once per team of :func:`teams_server`, as ``<team>-user``, with
    ``WORKSPACE`` in it replaced by the team's name: the last line each printed."""
    printed = {}
    for team in TEAMS:
        done = run_mlflow(server, code.replace("WORKSPACE", repr(team)), f"{team}-user")
        assert done.returncode == 0, done.stderr[-3000:]
        printed[team] = done.stdout.strip().splitlines()[-1]
    return printed


@pytest.fixture(scope="module")
def workspaces_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """One server for a module (SQLite) with users ``dev`` and ``ops`` and no grants."""
    tmp = tmp_path_factory.mktemp("workspaces")
    with auth_server(f"sqlite:///{tmp / 'ws.db'}", str(tmp / "artifacts")) as (live, root):
        for user in ("dev", "ops"):
            made = root.post("/api/2.0/mlflow/users/create", json={"username": user, "password": PASSWORD})
            assert made.status_code == 200, made.text
        yield live, root


@pytest.fixture
def teams_server(db_uri: str, tmp_path) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """A server per store (SQLite, PostgreSQL) with workspaces ``dev`` and ``prod``, and users ``dev-user`` and
    ``prod-user`` each holding EDIT on their team's workspace."""
    with auth_server(db_uri, str(tmp_path / "artifacts")) as (live, root):
        for team in TEAMS:
            assert root.post("/api/3.0/mlflow/workspaces", json={"name": team}).status_code == 201
            user = f"{team}-user"
            assert root.post("/api/2.0/mlflow/users/create", json={"username": user, "password": PASSWORD}).is_success
            grant = {"username": user, "resource_type": "workspace", "resource_id": team, "permission": "EDIT"}
            assert root.post("/api/3.0/mlflow/users/permissions/grant", json=grant).is_success
        yield live, root


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

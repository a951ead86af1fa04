"""A server of two processes (``--workers 2``): a revoke made through one is seen by the other within the cache
time, and failed logins back off across both (the store keeps them). With ``--no-serve-artifacts`` the start-up
log says the server cannot guard artifacts."""

from __future__ import annotations

import os
import time
from unittest import mock

import httpx
import pytest

from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
CACHE_SECONDS = 1.0
FRESH = 24  # requests, each on a new connection: the kernel spreads them over both processes


@pytest.fixture
def two_processes(db_uri, tmp_path):
    env = {"MODELYARD_AUTH_ADMIN_USERNAME": "root", "MODELYARD_AUTH_ADMIN_PASSWORD": PASSWORD,
           "MODELYARD_AUTH_CACHE_SECONDS": str(CACHE_SECONDS), "MODELYARD_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"}
    with mock.patch.dict(os.environ, env):  # the server process inherits them
        live = LiveServer(db_uri, None, "--auth", "--workers", "2", "--no-serve-artifacts",
                          "--default-artifact-root", str(tmp_path / "direct"))
    try:
        yield live
    finally:
        live.stop()


def _statuses(url: str, auth: tuple[str, str], **params: str) -> list[int]:
    out = []
    for _ in range(FRESH):
        with httpx.Client(auth=auth) as fresh:  # a new connection each time
            out.append(fresh.get(url, params=params).status_code)
    return out


def test_a_revoke_reaches_every_process_within_the_cache_time(two_processes):
    live = two_processes
    root = httpx.Client(base_url=live.url, auth=("root", PASSWORD))
    assert root.post("/api/2.0/mlflow/users/create", json={"username": "ann", "password": PASSWORD}).is_success
    exp = root.post("/api/2.0/mlflow/experiments/create", json={"name": "watched"}).json()["experiment_id"]
    grant = {"username": "ann", "resource_type": "experiment", "resource_id": exp, "permission": "READ"}
    assert root.post("/api/3.0/mlflow/users/permissions/grant", json=grant).is_success
    url = f"{live.url}/api/2.0/mlflow/experiments/get"
    time.sleep(CACHE_SECONDS + 0.5)  # whatever a process remembered from before the grant has expired
    assert _statuses(url, ("ann", PASSWORD), experiment_id=exp) == [200] * FRESH  # both processes cache the grant
    assert root.post("/api/3.0/mlflow/users/permissions/revoke", json=grant).is_success
    time.sleep(CACHE_SECONDS + 0.5)
    assert _statuses(url, ("ann", PASSWORD), experiment_id=exp) == [403] * FRESH
    # A deleted account is refused by both processes too.
    assert root.request("DELETE", "/api/2.0/mlflow/users/delete", json={"username": "ann"}).is_success
    time.sleep(CACHE_SECONDS + 0.5)
    gone = _statuses(url, ("ann", PASSWORD), experiment_id=exp)
    assert gone[:5] == [401] * 5 and set(gone) <= {401, 429}, gone  # then slowed down, as any failing login


def test_failed_logins_back_off_across_processes(two_processes):
    live = two_processes
    url = f"{live.url}/api/2.0/mlflow/experiments/search"
    statuses = []
    for i in range(8):
        with httpx.Client() as fresh:
            statuses.append(fresh.get(url, auth=("root", f"guess-{i}")).status_code)
    assert statuses[:5] == [401] * 5  # five free tries in all, not five per process
    assert 429 in statuses[5:], statuses


def test_the_start_up_log_warns_that_artifacts_are_not_guarded(two_processes):
    with open(two_processes.log.name, encoding="utf-8", errors="replace") as fh:
        log = fh.read()
    assert "--no-serve-artifacts" in log and "cannot guard those artifacts" in log, log[-2000:]

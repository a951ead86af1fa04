"""A server started with --auth, driven by the official mlflow client: Basic, tokens, failures."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture
def auth_server(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'auth.db'}"
    monkeypatch.setenv("MODELYARD_AUTH_ADMIN_USERNAME", "root")
    monkeypatch.setenv("MODELYARD_AUTH_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setenv("MODELYARD_AUTH_CACHE_SECONDS", "0")
    server = LiveServer(uri, str(tmp_path / "artifacts"), "--auth")
    try:
        yield server
    finally:
        server.stop()


def _mlflow(server: LiveServer, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "MODELYARD_"))}
    clean.update(env, MLFLOW_TRACKING_URI=server.url)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=120)


LOG = """
import mlflow
mlflow.set_experiment("secured")
with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("loss", 0.5, step=1)
print(mlflow.get_run(run.info.run_id).data.metrics["loss"])
"""


def test_basic_and_token_with_the_official_client(auth_server):
    server = auth_server
    done = _mlflow(server, LOG, MLFLOW_TRACKING_USERNAME="root", MLFLOW_TRACKING_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0.5"

    wrong = _mlflow(server, LOG, MLFLOW_TRACKING_USERNAME="root", MLFLOW_TRACKING_PASSWORD="nope")
    assert wrong.returncode != 0 and "UNAUTHENTICATED" in wrong.stderr

    admin = httpx.BasicAuth("root", PASSWORD)
    made = httpx.post(f"{server.url}/api/2.0/modelyard/tokens/create", json={"name": "ci"}, auth=admin).json()
    token = made["token"]
    assert token.startswith("my_") and "token_hash" not in str(made)
    done = _mlflow(server, LOG, MLFLOW_TRACKING_TOKEN=token)
    assert done.returncode == 0, done.stderr

    httpx.post(f"{server.url}/api/2.0/modelyard/tokens/revoke", json={"token_id": made["info"]["id"]}, auth=admin)
    revoked = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/search",
                        headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and revoked.json()["error_code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("header", [
    None, "Digest username=root", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
    "Bearer", "Bearer not-a-token", "garbage",
])
def test_missing_or_malformed_credentials_are_401_json(auth_server, header):
    headers = {} if header is None else {"Authorization": header}
    resp = httpx.get(f"{auth_server.url}/api/2.0/mlflow/experiments/search", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error_code"] == "UNAUTHENTICATED"
    assert resp.headers["www-authenticate"].startswith("Basic")


def test_password_guessing_backs_off(auth_server):
    url = f"{auth_server.url}/api/2.0/mlflow/experiments/search"
    statuses = [httpx.get(url, auth=("root", f"guess-{i}")).status_code for i in range(7)]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]
    slowed = httpx.get(url, auth=("root", "guess-again"))
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    # The right password from another account is not slowed by root's failures.
    assert httpx.get(f"{auth_server.url}/health").status_code == 200


def test_users_and_grants_from_the_cli(auth_server):
    env = {**os.environ, "MLFLOW_TRACKING_USERNAME": "root", "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "modelyard.cli", *args, "--tracking-uri", auth_server.url],
        env=env, capture_output=True, text=True, timeout=120)
    made = run("users", "create", "ana", "--password", "ana's password")
    assert made.returncode == 0, made.stderr
    listed = run("users", "list", "--json")
    assert '"ana"' in listed.stdout
    exp = httpx.post(f"{auth_server.url}/api/2.0/mlflow/experiments/create", json={"name": "shared"},
                     auth=("root", PASSWORD)).json()["experiment_id"]
    granted = run("permissions", "grant", "ana", "experiment", exp, "EDIT")
    assert granted.returncode == 0, granted.stderr
    assert run("permissions", "show", "ana", "experiment", exp).stdout.strip() == "EDIT"
    ok = httpx.post(f"{auth_server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp},
                    auth=("ana", "ana's password"))
    assert ok.status_code == 200

"""Import from a running tracking server through MLflow's REST API.

In CI the source server is our own ``modelyard server`` (it speaks MLflow's REST
API and proxies artifacts as ``mlflow server`` does), populated by the official
client: a real ``mlflow server`` needs the full ``mlflow`` package in its own
venv (mlflow-skinny has no server), and installing it took ~80 s here, over this
folder's budget. Where such a venv exists, the same test runs against it too.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from pathlib import Path

import httpx
import pytest

from modelyard import Client
from modelyard.importer import Importer, open_source
from tests.conftest import free_port, serving
from tests.mlflow_support import reset_fluent_state

from .compare import assert_same
from .populate import populate

REAL_SERVER_ENV = "MODELYARD_TEST_MLFLOW_SERVER"
BENCHMARK_VENV = Path(__file__).resolve().parents[2] / "benchmarks" / ".venvs" / "mlflow" / "bin" / "mlflow"


def _copy_twice(url: str, store: Path) -> None:
    """Populate the server with the official client; import it, check it; import again, nothing new."""
    with warnings.catch_warnings():  # MLflow's deprecation notices (stages) while building the data
        warnings.simplefilter("ignore")
        populate(url, None)
    reset_fluent_state()
    source = open_source(url)
    try:
        assert source.label == url
        with Client(str(store)) as target:
            first = Importer(source, target).run()
            assert first.copied["runs"] == 6 and first.copied["model versions"] == 2
            assert first.copied["artifact files"] >= 2
            assert_same(url, target)
            again = Importer(source, target).run()
            assert again.copied["runs"] == again.copied["model versions"] == again.copied["logged models"] == 0
            assert_same(url, target)
    finally:
        source.close()


def test_a_running_server_is_copied_once(_mlflow_env: None, tmp_path: Path) -> None:
    with serving("sqlite", tmp_path / "source") as live:
        _copy_twice(live.url, tmp_path / "store")


def test_a_real_mlflow_server_is_copied_once(_mlflow_env: None, tmp_path: Path) -> None:
    mlflow = os.environ.get(REAL_SERVER_ENV) or (str(BENCHMARK_VENV) if BENCHMARK_VENV.exists() else None)
    if mlflow is None:
        pytest.skip(f"no full mlflow package here: set {REAL_SERVER_ENV}=/path/to/venv/bin/mlflow "
                    "(pip install mlflow==3.17.2 in a venv) or build benchmarks/.venvs/mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [mlflow, "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
             "--artifacts-destination", str(tmp_path / "mlartifacts"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        try:
            for _ in range(240):  # a cold start imports a lot: up to 120 s
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(0.5)
            _copy_twice(url, tmp_path / "store")
        finally:
            proc.terminate()
            proc.wait(20)

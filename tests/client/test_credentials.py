"""The SDK's HTTP client sends MLflow's credentials: through a real authenticating proxy to a live server.

The proxy (a threaded ``http.server`` on 127.0.0.1) refuses any request whose
``Authorization`` header is not the one it expects with a 401, and forwards the
rest to the server, as a reverse proxy in front of ``modelyard server`` would.
"""

from __future__ import annotations

import base64
import http.server
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from modelyard.client import Client
from modelyard.client.credentials import connection
from modelyard.errors import InvalidParameterValue, ModelyardError
from tests.conftest import LiveServer

_VARS = [f"{p}_TRACKING_{n}" for p in ("MLFLOW", "MODELYARD")
         for n in ("TOKEN", "USERNAME", "PASSWORD", "INSECURE_TLS", "SERVER_CERT_PATH", "CLIENT_CERT_PATH")]


class AuthProxy:
    """Forwards requests carrying ``Authorization: <expected>`` to ``upstream``; answers others 401."""

    def __init__(self, upstream: str) -> None:
        self.expected = ""
        self.seen: list[str | None] = []
        proxy = self
        forward = httpx.Client(base_url=upstream, timeout=30)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                body = self._body()
                header = self.headers.get("Authorization")
                proxy.seen.append(header)
                if header != proxy.expected:
                    self._answer(401, b"Unauthorized", "text/plain")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
                resp = forward.request(self.command, self.path, content=body, headers=headers)
                self._answer(resp.status_code, resp.content, resp.headers.get("content-type", "application/json"))

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):  # the SDK streams uploads
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._forward = forward

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._forward.close()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("credentials")
    server = LiveServer(f"sqlite:///{folder / 'db.sqlite'}", str(folder / "artifacts"))
    yield server
    server.stop()


@pytest.fixture
def proxy(upstream: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[AuthProxy]:
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials but a test's own
    p = AuthProxy(upstream.url)
    yield p
    p.close()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _round_trip(url: str) -> None:
    """Tracking calls and a proxied artifact upload and download, all through the proxy."""
    with Client(url) as c:
        exp = c.create_experiment(f"creds-{uuid.uuid4().hex}")  # id(c) repeats once a client is freed
        run_id = c.create_run(exp).info.run_id
        c.log_text(run_id, "hello", "notes/hello.txt")
        assert c.load_text(run_id, "notes/hello.txt") == "hello"
        assert [r.info.run_id for r in c.search_runs(exp)] == [run_id]


def test_without_credentials_the_proxy_refuses(proxy: AuthProxy) -> None:
    proxy.expected = "Bearer s3cret"
    with Client(proxy.url) as c, pytest.raises(ModelyardError) as info:
        c.create_experiment("refused")
    assert info.value.status == 401
    assert proxy.seen and all(h is None for h in proxy.seen)


def test_mlflow_tracking_token_is_sent_as_bearer(proxy: AuthProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy.expected = "Bearer s3cret"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
    _round_trip(proxy.url)
    assert set(proxy.seen) == {"Bearer s3cret"}
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "wrong")
    with Client(proxy.url) as c, pytest.raises(ModelyardError) as info:
        c.create_experiment("refused")
    assert info.value.status == 401


def test_modelyard_token_wins_over_mlflows(proxy: AuthProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy.expected = "Bearer ours"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "theirs")
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", "ours")
    _round_trip(proxy.url)


def test_username_and_password_are_sent_as_basic_and_win_over_a_token(
    proxy: AuthProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy.expected = _basic("alice", "pä:ss")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pä:ss")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")  # as MLflow: basic first
    _round_trip(proxy.url)
    assert set(proxy.seen) == {proxy.expected}


def test_mlflows_credentials_file_is_read(proxy: AuthProxy, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".mlflow").mkdir()
    (tmp_path / ".mlflow" / "credentials").write_text(
        "[mlflow]\nmlflow_tracking_username = carol\nmlflow_tracking_password = from-file\n")
    proxy.expected = _basic("carol", "from-file")
    _round_trip(proxy.url)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "from-env")  # the environment wins, as in MLflow
    proxy.expected = _basic("carol", "from-env")
    _round_trip(proxy.url)


def test_user_info_in_the_uri_is_sent_as_basic_and_never_echoed(proxy: AuthProxy) -> None:
    proxy.expected = _basic("bob", "p@ss word")
    authed = proxy.url.replace("http://", "http://bob:p%40ss%20word@")
    _round_trip(authed)
    proxy.expected = _basic("bob", "other")
    with Client(authed) as c, pytest.raises(ModelyardError) as info:
        c.create_experiment("refused")
    assert info.value.status == 401 and "p%40ss" not in str(info.value) and "p@ss" not in str(info.value)


def test_the_official_client_passes_the_same_proxy(proxy: AuthProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy is a fair stand-in: MLflow's own client, given the same variable, gets through."""
    from mlflow import MlflowClient

    proxy.expected = "Bearer s3cret"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert MlflowClient(proxy.url).create_experiment("official-through-proxy")


def test_tls_settings_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    assert connection("https://h:1/").verify is True
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    assert connection("https://h:1").verify is False
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tmp_path / "ca.pem"))
    with pytest.raises(InvalidParameterValue, match="cannot both be set"):
        connection("https://h:1")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "maybe")
    with pytest.raises(InvalidParameterValue, match="INSECURE_TLS"):
        connection("https://h:1")

"""Malformed webhook URLs are a 400 INVALID_PARAMETER_VALUE (MLflow's words), never a 500 a client retries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelyard.errors import InvalidParameterValue
from tests.conftest import LiveServer, serving
from tests.mlflow_support import CLIENT_ENV, assert_error

MALFORMED = [
    ("http://[invalid", "Invalid IPv6 URL"),
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://a]b/", "Invalid IPv6 URL"),
    ("http://[v1.x]/hook", "Invalid IPv6 address"),
    ("http://example.com:notaport/", "Port could not be cast"),
    ("http://example.com:99999/", "Port out of range"),
    ("http://exa mple.com/", "contains characters no host name has"),
    ("http://%7f.example/", "contains characters no host name has"),
    ("http://ex\x00ample.com/", "non-printable"),
    ("http://ex\nample.com/", "non-printable"),
    ("http://\u0080/", "Invalid IDNA hostname"),
]


@pytest.mark.parametrize(("url", "why"), MALFORMED)
def test_create_and_update_refuse_a_malformed_url(service, url: str, why: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid webhook URL") as info:
        service.webhooks.create_webhook("bad", url, ["model_version.created"])
    assert why in str(info.value)
    assert service.webhooks.list_webhooks() == []
    hook = service.webhooks.create_webhook("good", "http://127.0.0.1:9/hook", ["model_version.created"])
    with pytest.raises(InvalidParameterValue, match=why.split()[0]):
        service.webhooks.update_webhook(hook.webhook_id, url=url)
    assert service.webhooks.get_webhook(hook.webhook_id).url == "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving("sqlite", tmp_path_factory.mktemp("bad-hooks")) as live:
        yield live


def test_the_official_client_gets_a_400_at_once(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(MlflowException) as info:
        MlflowClient(server.url).create_webhook("bad", "http://[invalid", ["model_version.created"])
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and info.value.get_http_status_code() == 400
    assert "Invalid webhook URL 'http://[invalid'" in info.value.message


@pytest.mark.parametrize(("url", "why"), MALFORMED[:8])
def test_raw_requests_keep_the_connection_usable(server: LiveServer, url: str, why: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        resp = http.post("/api/2.0/mlflow/webhooks", json={"name": "bad", "url": url, "events": [
            {"entity": "model_version", "action": "created"}]})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE", mentions="Invalid webhook URL")
        assert http.get("/health").status_code == 200

"""``modelyard serve --tokens``: a real server whose prediction routes need a bearer token; probes stay open."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.serving.conftest import Registered, ServeProcess

TOKENS = "first-secret-token,second-secret-token"


@pytest.fixture(scope="module")
def guarded(registered: Registered) -> Iterator[ServeProcess]:
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--no-request-log",
                        env={"MODELYARD_SERVE_TOKENS": TOKENS})
    try:
        yield proc
    finally:
        proc.stop()


def test_prediction_routes_need_one_of_the_tokens(guarded: ServeProcess, registered: Registered) -> None:
    for path in ("/invocations", "/v2/models/model/infer"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
            refused = httpx.post(guarded.url + path, json={}, headers=headers)
            assert refused.status_code == 401, (path, headers, refused.text)
            assert refused.json()["error_code"] == "UNAUTHENTICATED"
            assert refused.headers["www-authenticate"].startswith("Bearer")
    for path in ("/metrics", "/version", "/"):
        assert httpx.get(guarded.url + path).status_code == 401, path
    for token in TOKENS.split(","):
        got = httpx.get(guarded.url + "/version", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text
        answered = httpx.post(guarded.url + "/invocations", json={}, headers={"Authorization": f"Bearer {token}"})
        assert answered.status_code not in (401, 403), answered.text  # past the door: the model's own answer
    for probe in ("/health", "/ping", "/v2/health/ready"):
        assert httpx.get(guarded.url + probe).status_code == 200, probe

"""JWTs from an identity provider, verified against a JWKS served by the test on 127.0.0.1 (or a file)."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.settings import Settings

jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

ISSUER, AUDIENCE = "https://idp.example", "modelyard"
CURRENT = "/api/2.0/mlflow/users/current"


def _key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"good": _key(), "stranger": _key()}


@pytest.fixture(scope="module")
def jwks(keys) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["good"].public_key()))
    return {"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}


@pytest.fixture(scope="module")
def jwks_url(jwks):
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _app(tmp_path, source: str) -> TestClient:
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'jwt.db'}", artifacts_destination=str(tmp_path / "a"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password="correct horse battery", auth_jwt_jwks=source, auth_jwt_issuer=ISSUER,
                        auth_jwt_audience=AUDIENCE, auth_jwt_username_claim="preferred_username")
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _token(keys: dict[str, Any], key: str = "good", kid: str = "k1", **claims: Any) -> str:
    payload = {"iss": ISSUER, "aud": AUDIENCE, "preferred_username": "ana", "groups": ["ml"],
               "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, keys[key], algorithm="RS256", headers={"kid": kid})


def _unsigned(**claims: Any) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    payload = {"iss": ISSUER, "aud": AUDIENCE, "preferred_username": "root", "exp": int(time.time()) + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{part(payload)}."


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_jwts_from_a_jwks_url(tmp_path, keys, jwks_url):
    with _app(tmp_path, jwks_url) as http:
        ok = http.get(CURRENT, headers=_bearer(_token(keys)))
        assert ok.status_code == 200, ok.text
        assert ok.json()["user"]["username"] == "ana" and ok.json()["user"]["kind"] == "sso"
        refused = {
            "expired": _token(keys, exp=int(time.time()) - 60),
            "wrong issuer": _token(keys, iss="https://evil.example"),
            "wrong audience": _token(keys, aud="someone-else"),
            "alg none": _unsigned(),
            "unknown kid": _token(keys, kid="k2"),
            "another key": _token(keys, key="stranger"),
            "no expiry": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "preferred_username": "ana"}, keys["good"],
                                    algorithm="RS256", headers={"kid": "k1"}),
        }
        for why, token in refused.items():
            resp = http.get(CURRENT, headers=_bearer(token))
            assert resp.status_code == 401, (why, resp.text)
            assert resp.json()["error_code"] == "UNAUTHENTICATED", why
        # Each refusal is in the audit trail with its reason (a token sent again is not written twice).
        assert http.get(CURRENT, headers=_bearer(refused["expired"])).status_code == 401
        entries = http.get("/api/2.0/modelyard/auth/audit", auth=("root", "correct horse battery")).json()["entries"]
        failures = [e["new_value"] for e in entries if e["action"] == "login_failure" and e["key"] == "jwt"]
        assert len(failures) == len(refused), failures
        assert any("expired" in f for f in failures) and any("issuer" in f for f in failures)
        assert any("unknown key" in f for f in failures)
        # An admin grants to the account the first sign-in made, like to any other.
        grant = http.post("/api/3.0/mlflow/users/permissions/grant", auth=("root", "correct horse battery"),
                          json={"username": "ana", "resource_type": "experiment", "resource_id": "0",
                                "permission": "EDIT"})
        assert grant.status_code == 200, grant.text


def test_jwts_from_a_jwks_file(tmp_path, keys, jwks):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    with _app(tmp_path, str(path)) as http:
        assert http.get(CURRENT, headers=_bearer(_token(keys))).status_code == 200
        assert http.get(CURRENT, headers=_bearer(_token(keys, exp=int(time.time()) - 1))).status_code == 401


def test_the_groups_claim_sets_group_membership(tmp_path, keys, jwks_url):
    with _app(tmp_path, jwks_url) as http:
        root = ("root", "correct horse battery")
        get = "/api/2.0/mlflow/experiments/get?experiment_id=0"
        assert http.post("/api/2.0/modelyard/groups/create", json={"group": "ml"}, auth=root).status_code == 200
        grant = {"group": "ml", "resource_type": "experiment", "resource_id": "0", "permission": "EDIT"}
        assert http.post("/api/2.0/modelyard/groups/permissions/grant", json=grant, auth=root).status_code == 200
        assert http.get(get, headers=_bearer(_token(keys, groups=["ml", "unknown"]))).status_code == 200
        listed = http.get("/api/2.0/modelyard/groups/list", auth=root).json()["groups"]
        assert listed == [{"name": "ml", "members": ["ana"]}]
        assert http.get(get, headers=_bearer(_token(keys, groups=[], exp=int(time.time()) + 601))).status_code == 200
        assert http.get("/api/2.0/modelyard/groups/list", auth=root).json()["groups"][0]["members"] == []

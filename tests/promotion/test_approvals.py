"""Approvals and protected aliases through the real app with --auth, on SQLite and PostgreSQL.

An approver (named in the policy, or MANAGE on the model) approves; anyone else is refused; the
requester cannot approve their own request. Promotion is the only way a protected alias moves —
the official mlflow client cannot move it — and every step lands in the audit trail and the
webhook outbox (our extension events).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.settings import Settings
from tests.conftest import LiveServer, fresh_database

PASSWORD = "correct horse battery"
P = "/api/2.0/modelyard/promotion"
POLICY = {"gates": [{"check": "required_tags", "tags": ["team"]},
                    {"check": "approval", "approvers": ["ann"]}]}


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def http(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("approvals")
    with fresh_database(request.param, tmp_path) as db_uri:
        yield from _app(db_uri, tmp_path)


def _app(db_uri: str, tmp_path: Any) -> Any:
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_cache_seconds=60.0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        root = _basic("root")

        def ok(path: str, body: dict[str, Any], who: str = "root") -> dict[str, Any]:
            resp = client.post(path, json=body, headers=_basic(who))
            assert resp.status_code == 200, resp.text
            return resp.json()  # type: ignore[no-any-return]

        ok("/api/2.0/mlflow/registered-models/create", {"name": "churn"})
        for _ in range(3):
            ok("/api/2.0/mlflow/model-versions/create", {"name": "churn", "source": "s3://bucket/m"})
        ok("/api/2.0/mlflow/registered-models/alias", {"name": "churn", "alias": "champion", "version": "1"})
        ok("/api/2.0/modelyard/registered-models/alias/protect", {"name": "churn", "alias": "champion"})
        for user, level in (("ed", "EDIT"), ("mia", "MANAGE"), ("ann", "READ"), ("bob", "READ")):
            ok("/api/2.0/mlflow/users/create", {"username": user, "password": PASSWORD})
            ok("/api/3.0/mlflow/users/permissions/grant", {"username": user, "resource_type": "registered_model",
                                                          "resource_id": "churn", "permission": level})
        client.ok = ok  # type: ignore[attr-defined]
        client.root = root  # type: ignore[attr-defined]
        yield client


def test_an_approver_approves_a_non_approver_is_refused_and_promotion_moves_the_protected_alias(http) -> None:
    ok = http.ok
    hook = ok("/api/2.0/mlflow/webhooks", {"name": "promotions", "url": "https://hooks.example.com/promotions",
                                          "events": ["promotion.passed", "promotion.failed",
                                                     "transition_request.approved"]})
    hook_id = hook["webhook"]["webhook_id"]
    # only a model's manager registers its policy
    denied = http.post(f"{P}/policies/set", json={"name": "churn", "alias": "champion", "policy": POLICY},
                       headers=_basic("ed"))
    assert denied.status_code == 403
    ok(f"{P}/policies/set", {"name": "churn", "alias": "champion", "policy": POLICY}, "mia")

    request = ok(f"{P}/requests/create", {"name": "churn", "version": "2", "alias": "champion",
                                          "comment": "better recall"}, "ed")["request"]
    rid = request["id"]
    for who in ("bob", "ed"):  # READ but not named; EDIT but not an approver
        refused = http.post(f"{P}/requests/approve", json={"name": "churn", "request_id": rid}, headers=_basic(who))
        assert refused.status_code == 403 and "may not approve" in refused.json()["message"], refused.text

    # before approval (and without the tag) the gates fail, and the alias stays
    failed = ok(f"{P}/promote", {"name": "churn", "version": "2", "alias": "champion"}, "ed")["promotion"]
    assert not failed["moved"] and failed["failed_checks"] == ["required_tags", "approval"]
    assert f"request {rid} awaits approval" in failed["checks"][1]["message"]

    ok(f"{P}/requests/comment", {"name": "churn", "request_id": rid, "comment": "looks fine"}, "bob")
    approved = ok(f"{P}/requests/approve", {"name": "churn", "request_id": rid, "comment": "ok"}, "ann")["request"]
    assert approved["status"] == "approved"
    ok("/api/2.0/mlflow/model-versions/set-tag", {"name": "churn", "version": "2", "key": "team", "value": "risk"}, "ed")

    # nobody moves the protected alias directly, admins included
    direct = http.post("/api/2.0/mlflow/registered-models/alias", headers=http.root,
                       json={"name": "churn", "alias": "champion", "version": "2"})
    assert direct.status_code == 403 and "Only promotion moves a protected alias" in direct.json()["message"]
    done = ok(f"{P}/promote", {"name": "churn", "version": "2", "alias": "champion"}, "ed")["promotion"]
    assert done["passed"] and done["moved"] and done["request_id"] == rid
    assert done["checks"][1]["evidence"]["approvers"] == ["ann"]
    got = http.get("/api/2.0/mlflow/registered-models/alias", params={"name": "churn", "alias": "champion"},
                   headers=http.root).json()
    assert got["model_version"]["version"] == "2"

    history = http.get(f"{P}/requests/get", params={"name": "churn", "request_id": rid}, headers=_basic("bob")).json()
    assert history["request"]["status"] == "promoted"
    assert [(e["action"], e["user_id"]) for e in history["request"]["events"]] == [
        ("request", "ed"), ("comment", "bob"), ("approve", "ann"), ("promote", "ed")]
    audit = http.get("/api/2.0/modelyard/registry/audit", params={"name": "churn"}, headers=http.root)
    actions = [(e["action"], e.get("user_id")) for e in audit.json()["entries"]]
    assert ("transition_request_approve", "ann") in actions and ("promotion_gates", "ed") in actions
    assert actions.index(("promotion_gates", "ed")) < len(actions) - 1
    sent = http.get(f"/api/2.0/modelyard/webhooks/{hook_id}/deliveries", headers=http.root).json()
    assert sorted(d["event"] for d in sent["deliveries"]) == [
        "promotion.failed", "promotion.passed", "transition_request.approved"]

    # the queue: open requests of models the caller may read
    assert http.get(f"{P}/requests/list", params={"status": "promoted"}, headers=_basic("bob")).json()["requests"]


def test_the_requester_cannot_approve_their_own_request_and_a_manager_can_approve(http) -> None:
    ok = http.ok
    ok(f"{P}/policies/set", {"name": "churn", "alias": "champion", "policy": POLICY}, "mia")
    rid = ok(f"{P}/requests/create", {"name": "churn", "version": "3", "alias": "champion"}, "mia")["request"]["id"]
    own = http.post(f"{P}/requests/approve", json={"name": "churn", "request_id": rid}, headers=_basic("mia"))
    assert own.status_code == 403 and "requested transition" in own.json()["message"]
    again = http.post(f"{P}/requests/create", json={"name": "churn", "version": "3", "alias": "champion"},
                      headers=_basic("ed"))
    assert again.status_code == 400 and "already has request" in again.json()["message"]
    assert ok(f"{P}/requests/reject", {"name": "churn", "request_id": rid, "comment": "no"}, "ann")["request"][
        "status"] == "rejected"
    closed = http.post(f"{P}/requests/approve", json={"name": "churn", "request_id": rid}, headers=_basic("mia"))
    assert closed.status_code == 400 and "is rejected" in closed.json()["message"]
    rid2 = ok(f"{P}/requests/create", {"name": "churn", "version": "3", "alias": "champion"}, "ed")["request"]["id"]
    assert ok(f"{P}/requests/approve", {"name": "churn", "request_id": rid2}, "mia")["request"]["status"] == "approved"
    assert ok(f"{P}/requests/cancel", {"name": "churn", "request_id": rid2}, "ed")["request"]["status"] == "cancelled"


BAD_POLICIES = [
    ({"name": "churn", "alias": "champion", "policy": {"gates": []}}, 400, "policy.gates"),
    ({"name": "churn", "alias": "champion", "policy": {"gates": [{"check": "vibes"}]}}, 400, "gates[0].check"),
    ({"name": "churn", "alias": "champion", "policy": {"gates": [{"check": "metric_threshold", "metric": "f1",
                                                                  "op": "=", "threshold": 1}]}}, 400, "gates[0].op"),
    ({"name": "churn", "alias": "champion", "policy": {"gates": [{"check": "challenger", "dataset": "e.csv",
                                                                  "target": "y", "metric": "auc"}]}},
     400, "gates[0].metric"),
    ({"name": "churn", "alias": "champion", "policy_yaml": "gates: [signature"}, 400, "not valid YAML"),
    ({"name": "churn", "alias": "champion"}, 400, "one of them"),
    ({"name": "nope", "alias": "champion", "policy": POLICY}, 403, ""),
]


def test_bad_policies_get_a_clear_error(http) -> None:
    for body, status, message in BAD_POLICIES:
        resp = http.post(f"{P}/policies/set", json=body, headers=_basic("mia"))
        assert resp.status_code == status, resp.text
        assert message in resp.json()["message"]


def test_promoting_without_a_policy_names_the_command(http) -> None:
    resp = http.post(f"{P}/promote", json={"name": "churn", "version": "2", "alias": "staging"}, headers=_basic("ed"))
    assert resp.status_code == 404 and "modelyard promotion set-policy churn staging" in resp.json()["message"]
    bad = http.post(f"{P}/requests/approve", json={"name": "churn", "request_id": "x"}, headers=_basic("mia"))
    assert bad.status_code == 400 and "request_id" in bad.json()["message"]


def test_the_official_mlflow_client_cannot_move_a_protected_alias(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELYARD_AUTH_ADMIN_USERNAME", "root")
    monkeypatch.setenv("MODELYARD_AUTH_ADMIN_PASSWORD", PASSWORD)
    server = LiveServer(f"sqlite:///{tmp_path / 'auth.db'}", str(tmp_path / "artifacts"), "--auth")
    try:
        root = httpx.BasicAuth("root", PASSWORD)
        for path, body in (("/api/2.0/mlflow/registered-models/create", {"name": "churn"}),
                           ("/api/2.0/mlflow/model-versions/create", {"name": "churn", "source": "s3://b/m"}),
                           ("/api/2.0/mlflow/model-versions/create", {"name": "churn", "source": "s3://b/m"}),
                           ("/api/2.0/mlflow/registered-models/alias", {"name": "churn", "alias": "champion",
                                                                         "version": "1"}),
                           ("/api/2.0/modelyard/registered-models/alias/protect", {"name": "churn",
                                                                                   "alias": "champion"})):
            assert httpx.post(server.url + path, json=body, auth=root).status_code == 200
        code = ("from mlflow import MlflowClient\n"
                "c = MlflowClient()\n"
                "try:\n    c.set_registered_model_alias('churn', 'champion', '2')\n"
                "except Exception as e:\n    print('REFUSED', e)\n"
                "print('NOW', c.get_model_version_by_alias('churn', 'champion').version)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELYARD_"))}
        env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_TRACKING_USERNAME="root", MLFLOW_TRACKING_PASSWORD=PASSWORD)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert "REFUSED" in done.stdout and "PERMISSION_DENIED" in done.stdout, done.stdout + done.stderr
        assert "NOW 1" in done.stdout
    finally:
        server.stop()


def test_the_approvals_page_lists_requests_and_only_an_approver_decides(http) -> None:
    from modelyard.server.ui.csrf import COOKIE

    ok = http.ok
    ok(f"{P}/policies/set", {"name": "churn", "alias": "staging",
                             "policy": {"gates": [{"check": "approval", "approvers": ["ann"]}]}}, "mia")
    rid = ok(f"{P}/requests/create", {"name": "churn", "version": "3", "alias": "staging",
                                      "comment": "for the pilot"}, "ed")["request"]["id"]

    def page(who: str) -> str:
        resp = http.get("/approvals", headers=_basic(who))
        assert resp.status_code == 200, resp.text
        return resp.text.split('href="/models/churn/versions/3"', 1)[1].split("</tr>", 1)[0]

    row = page("bob")  # READ, not named: sees the request, not the buttons
    assert "@staging" in row and "ed" in row and "for the pilot" in row and "not an approver" in row
    assert f"/approvals/churn/{rid}/approve" in page("ann")  # named in the policy

    def current() -> dict[str, Any]:
        resp = http.get(f"{P}/requests/get", params={"name": "churn", "request_id": rid}, headers=http.root)
        assert resp.status_code == 200, resp.text
        return resp.json()["request"]  # type: ignore[no-any-return]

    def decide(who: str, verdict: str) -> httpx.Response:
        http.get("/approvals", headers=_basic(who))
        return http.post(f"/approvals/churn/{rid}/{verdict}", headers=_basic(who), follow_redirects=False,
                         data={"csrf_token": http.cookies[COOKIE], "comment": f"{who} says {verdict}"})

    refused = decide("bob", "approve")
    assert refused.status_code == 400 and "may not approve" in refused.text
    assert current()["status"] == "open"
    accepted = decide("ann", "approve")
    assert accepted.status_code == 303 and accepted.headers["location"] == "/approvals"
    request = current()
    assert request["status"] == "approved" and request["events"][-1]["user_id"] == "ann"
    assert "ann says approve" in page("bob")

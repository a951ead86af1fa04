"""Who may run which operation, for every operation of the table and every role.

The expected answer is derived from each operation's declared permission (modelyard.api): a new
operation is checked the day it is declared. Roles: anonymous, a user with no grant (the server's
default is NO_PERMISSIONS here), READ, EDIT and MANAGE on the experiment and the registered model
every request points at, and an admin. "Allowed" means the request got past authentication and
authorization (its answer may still be a 400 or 404 for what it asked); "denied" is a 403
PERMISSION_DENIED that names nothing, and anonymous is always a 401.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from modelyard.api.operations import RANK_OF, Operation, all_operations
from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic
from tests.server.test_operations_table import minimal_request

OPS = all_operations()
ROLES = ("anonymous", "nobody", "READ", "EDIT", "MANAGE", "admin")
# Resources whose grant is checked (a run's, logged model's, monitor's… through what it belongs to).
GUARDED = ("experiment", "run", "logged_model", "registered_model", "monitor", "monitor_result", "monitor_alert",
           "workspace")


def expected(op: Operation, role: str, absent: bool = False) -> str:
    """What ``role`` gets; ``absent``: the request leaves the permission's field out (an operation whose
    declaration says that asks for every resource: admins only)."""
    if role == "anonymous":
        return "unauthenticated"
    if role == "admin":
        return "allowed"
    perm = op.permission
    if absent:
        return "denied"
    if perm.resource in GUARDED and perm.field:
        held = 0 if role == "nobody" else RANK_OF[role]
        return "allowed" if held >= RANK_OF[perm.level] else "denied"
    return "denied" if perm.level == "MANAGE" else "allowed"


@pytest.fixture
def world(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_default_permission="NO_PERMISSIONS",
                        auth_cache_seconds=600.0)  # a password hashed once per user, not per request
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as http:
        admin = basic("root")

        def call(method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
            resp = http.request(method, path, json=body, headers=admin, **kw)
            assert resp.status_code == 200, resp.text
            return resp.json()

        exp = call("POST", "/api/2.0/mlflow/experiments/create", {"name": "guarded"})["experiment_id"]
        run = call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        call("POST", "/api/2.0/mlflow/registered-models/create", {"name": "guarded-model"})
        ids = {"experiment": exp, "run": run, "registered_model": "guarded-model"}
        try:
            model = call("POST", "/api/2.0/mlflow/logged-models", {"experiment_id": exp})["model"]["info"]["model_id"]
            ids["logged_model"] = model
        except AssertionError:
            ids["logged_model"] = "m-" + "0" * 32
        ids.update(_monitor(app, call), workspace="default")
        for role in ("nobody", "READ", "EDIT", "MANAGE"):
            call("POST", "/api/2.0/mlflow/users/create", {"username": role.lower(), "password": PASSWORD})
            if role != "nobody":
                for kind, rid in (("experiment", exp), ("registered_model", "guarded-model"), ("workspace", "default")):
                    call("POST", "/api/3.0/mlflow/users/permissions/grant",
                         {"username": role.lower(), "resource_type": kind, "resource_id": rid, "permission": role})
        yield http, ids


def _monitor(app: Any, call: Any) -> dict[str, str]:
    """A monitor of the guarded model, with one result and one open alert (as a monitor's run stores them)."""
    from modelyard.store.monitoring import Alert, MonitorResult

    call("POST", "/api/2.0/modelyard/monitoring/monitors/create",
         {"name": "guarded-monitor", "model_name": "guarded-model", "alias": "champion"})
    store = app.state.service.store.monitoring
    alert = Alert(0, "guarded-monitor", 0, "r", "share_drifted", 0.9, 0.3, "drifted", "open", 1)
    result_id, _ = store.record_result(MonitorResult(0, "guarded-monitor", "1", 1, None, None, 10, 0, {}), [alert], None,
                                       lambda a: a.to_dict())
    return {"monitor": "guarded-monitor", "monitor_result": str(result_id), "monitor_alert": str(alert.id)}


def _request(op: Operation, ids: dict[str, str]) -> dict[str, Any]:
    """An otherwise empty request whose permission field names the guarded resource."""
    perm = op.permission
    values = minimal_request(op)
    fields = {f.name: f for f in msgspec.structs.fields(op.request)}
    if perm.field and "." in perm.field and perm.resource in ids:  # a field inside nested objects (or a list's)
        first, *inner = perm.field.split(".")
        nested: Any = ids[perm.resource]
        for name in reversed(inner):
            nested = {name: nested}
        values[first] = [nested] if "list" in str(fields[first].type) else nested
        return values
    info = fields.get(perm.field or "")
    if info is None or perm.resource not in ids:
        return values
    value = ids[perm.resource]
    if perm.resource == "experiment" and perm.field.endswith("_name"):  # by name: the guarded experiment's
        value = "guarded"
    values[perm.field] = [value] if "list" in str(info.type) else value  # type: ignore[index]
    return values


def _answer(http: TestClient, op: Operation, values: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    path = op.url_path(values) if op.path_params else op.path
    body = {k: v for k, v in values.items() if k not in op.path_params}
    if op.query:
        resp = http.request(op.method, path, params=body, headers=headers)
    else:
        resp = http.request(op.method, path, json=body, headers=headers)
    return resp.status_code, resp.json() if resp.content else None


def _send(http: TestClient, op: Operation, values: dict[str, Any], headers: dict[str, str]) -> int:
    return _answer(http, op, values, headers)[0]


def test_every_operation_for_every_role(world):
    http, ids = world
    wrong: list[tuple[str, str, str, int]] = []
    # Destructive operations last, so the resources stay for the others.
    ordered = sorted(OPS, key=lambda op: op.name.startswith(("delete", "purge")))
    cases = [(op, _request(op, ids), False) for op in ordered]
    # An operation whose field, left out, means every resource: asked again without it.
    every = [(op, minimal_request(op), True) for op in OPS if op.permission.absent_means_every]
    assert every, "no operation declares absent_means_every: the case below checks nothing"
    for op, values, absent in cases + every:
        for role in ROLES:
            headers = {} if role == "anonymous" else basic("root" if role == "admin" else role.lower())
            status = _send(http, op, values, headers)
            want = expected(op, role, absent)
            got = {401: "unauthenticated", 403: "denied"}.get(status, "allowed")
            if got != want or status >= 500:
                wrong.append((op.name + (" (field left out)" if absent else ""), role, want, status))
    assert not wrong, wrong


def test_a_denied_answer_names_nothing(world):
    http, ids = world
    resp = http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": ids["experiment"]},
                    headers=basic("nobody"))
    assert resp.status_code == 403
    assert resp.json() == {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}
    assert "guarded" not in resp.text and ids["experiment"] not in resp.text


def test_lists_hide_what_the_caller_may_not_read(world):
    http, ids = world
    for user, sees in (("nobody", False), ("read", True), ("root", True)):
        found = http.post("/api/2.0/mlflow/experiments/search", json={}, headers=basic(user)).json()
        assert (ids["experiment"] in [e["experiment_id"] for e in found.get("experiments", [])]) is sees, user
        models = http.get("/api/2.0/mlflow/registered-models/search", headers=basic(user)).json()
        assert ("guarded-model" in [m["name"] for m in models.get("registered_models", [])]) is sees, user
    # An evaluation dataset is its first experiment's: hidden from searches, refused to read, without a grant.
    made = http.post("/api/3.0/mlflow/datasets/create", json={"name": "guarded-set", "experiment_ids": [ids["experiment"]]},
                     headers=basic("root"))
    assert made.status_code == 200, made.text
    dataset_id = made.json()["dataset"]["dataset_id"]
    for user, sees in (("nobody", False), ("read", True), ("root", True)):
        found = http.post("/api/3.0/mlflow/datasets/search", json={}, headers=basic(user)).json()
        assert (dataset_id in [d["dataset_id"] for d in found.get("datasets", [])]) is sees, user
    assert http.get(f"/api/3.0/mlflow/datasets/{dataset_id}", headers=basic("nobody")).status_code == 403
    assert http.get(f"/api/3.0/mlflow/datasets/{dataset_id}", headers=basic("read")).status_code == 200
    assert http.delete(f"/api/3.0/mlflow/datasets/{dataset_id}", headers=basic("read")).status_code == 403


def test_monitor_lists_hide_what_the_caller_may_not_read(world):
    http, ids = world
    for user, sees in (("nobody", False), ("read", True), ("root", True)):
        found = http.get("/api/2.0/modelyard/monitoring/monitors/list", headers=basic(user)).json()["monitors"]
        assert ([m["name"] for m in found] == ["guarded-monitor"]) is sees, user
        alerts = http.get("/api/2.0/modelyard/monitoring/alerts/list", headers=basic(user)).json()["alerts"]
        assert ([ids["monitor_alert"]] == [a["id"] for a in alerts]) is sees, user


def test_a_monitor_update_is_checked_on_the_monitor_not_the_model_it_names(world):
    """EDIT on another model does not let a caller change (or move) a monitor of a model they cannot edit."""
    http, _ = world
    mine = http.post("/api/2.0/mlflow/registered-models/create", json={"name": "own-model"}, headers=basic("read"))
    assert mine.status_code == 200, mine.text
    body = {"name": "guarded-monitor", "model_name": "own-model", "alias": "champion"}
    resp = http.post("/api/2.0/modelyard/monitoring/monitors/update", json=body, headers=basic("read"))
    assert resp.status_code == 403 and resp.json()["message"] == "Permission denied."


def test_the_creator_manages_what_they_made(world):
    http, _ = world
    made = http.post("/api/2.0/mlflow/experiments/create", json={"name": "mine"}, headers=basic("nobody"))
    assert made.status_code == 200, made.text
    exp = made.json()["experiment_id"]
    assert http.post("/api/2.0/mlflow/experiments/delete", json={"experiment_id": exp},
                     headers=basic("nobody")).status_code == 200
    assert http.post("/api/2.0/mlflow/experiments/restore", json={"experiment_id": exp},
                     headers=basic("read")).status_code == 403



def test_deleting_a_tag_or_alias_needs_what_setting_it_needs():
    """EDIT consistent across set and delete of tags and aliases (MLflow asks MANAGE for some deletes), from the
    operations table: a new pair that disagrees fails here."""
    from modelyard.api.operations import all_operations

    ops = {op.name: op for op in all_operations()}
    pairs = []
    for name, op in ops.items():
        if name.startswith("delete_") and ("tag" in name or "alias" in name):
            setter = next((ops[s] for s in (f"set_{name[7:]}", f"set_{name[7:]}s") if s in ops), None)
            assert setter is not None, f"{name} has no set operation to compare with"
            pairs.append((name, op.permission.level, setter.permission.level))
    assert len(pairs) >= 8, pairs
    assert [p for p in pairs if p[1] != p[2]] == []


def test_leaving_out_a_field_that_means_every_resource_is_refused_by_name(world):
    """Who may leave such a field out is in the matrix above; the refusal says which field to give."""
    http, _ids = world
    for op in OPS:
        if op.permission.absent_means_every:
            status, body = _answer(http, op, minimal_request(op), basic("read"))
            assert status == 403 and body["error_code"] == "PERMISSION_DENIED", op.name
            assert f"'{op.permission.field}'" in body["message"] and "admins" in body["message"], body


def test_served_requests_are_logged_only_for_models_the_caller_may_edit(world):
    http, _ids = world
    path = "/api/2.0/modelyard/inference/requests"

    def rows(*models: str) -> dict[str, Any]:
        return {"requests": [{"request_id": f"r-{i}", "model_name": m, "model_version": "1", "inputs": {"x": 1},
                              "outputs": {"y": 2}} for i, m in enumerate(models)]}

    assert http.post(path, json=rows("guarded-model", "guarded-model"), headers=basic("edit")).status_code == 200
    assert http.post(path, json=rows("guarded-model"), headers=basic("read")).status_code == 403
    # One row of a model the caller may not edit refuses the whole call: nothing of it is stored.
    mixed = http.post(path, json={"requests": [{**rows("guarded-model")["requests"][0], "request_id": "mixed-1"},
                                               {**rows("other-model")["requests"][0], "request_id": "mixed-2"}]},
                      headers=basic("edit"))
    assert mixed.status_code == 403
    stored = http.get(path, params={"model_name": "guarded-model"}, headers=basic("root")).json()["requests"]
    assert sorted(r["request_id"] for r in stored) == ["r-0", "r-1"]

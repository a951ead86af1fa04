"""Defect 3 of issue 13: cross-site requests and DNS rebinding, against a live ``modelyard server``.

Each attack is replayed as a browser would send it, and the refusal asserted along
with its absence of effect (the experiment is still there, nothing was logged). The
hot calls (log-metric, log-batch, runs/create...) are answered by the server's own
HTTP protocol before any ASGI code whenever they arrive on an idle connection, as
they do here: the refusals of those tests are that protocol's. The guard does not
depend on the store, so one SQLite server serves the module.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

import modelyard as my

from ..conftest import LiveServer
from .raw import Conn, request, server_with

API = "/api/2.0/mlflow"
EVIL = "http://evil.example"
ALLOWED_HOST = "mlflow.internal"
ALLOWED_ORIGIN = "http://ui.internal:3000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with server_with(tmp_path_factory.mktemp("cross-site"), allowed_hosts=ALLOWED_HOST,
                     cors_allowed_origins=ALLOWED_ORIGIN) as live:
        yield live


def new_experiment(server: LiveServer) -> str:
    r = httpx.post(server.url + f"{API}/experiments/create", json={"name": f"cs-{uuid.uuid4().hex}"})
    assert r.status_code == 200, r.text
    return str(r.json()["experiment_id"])


def stage(server: LiveServer, experiment_id: str) -> str:
    r = httpx.get(server.url + f"{API}/experiments/get", params={"experiment_id": experiment_id})
    return str(r.json()["experiment"]["lifecycle_stage"])


def new_run(server: LiveServer) -> str:
    r = httpx.post(server.url + f"{API}/runs/create", json={"experiment_id": new_experiment(server)})
    return str(r.json()["run"]["info"]["run_id"])


def history(server: LiveServer, run_id: str) -> list[float]:
    r = httpx.get(server.url + f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    return sorted(p["value"] for p in r.json().get("metrics", []))


def test_a_cross_site_text_plain_post_deletes_nothing(server):
    exp = new_experiment(server)
    body = json.dumps({"experiment_id": exp})
    url = server.url + f"{API}/experiments/delete"
    # What a page of another site may send without a preflight: text/plain, with its Origin.
    attack = httpx.post(url, content=body, headers={"Content-Type": "text/plain", "Origin": EVIL})
    assert attack.status_code == 403 and attack.json()["error_code"] == "PERMISSION_DENIED"
    assert "cross-origin" in attack.json()["message"].lower()
    # A browser that sends no Origin still sends its Referer, or at least the text/plain type.
    referer = httpx.post(url, content=body, headers={"Content-Type": "application/json", "Referer": EVIL + "/x"})
    assert referer.status_code == 403 and referer.json()["error_code"] == "PERMISSION_DENIED"
    plain = httpx.post(url, content=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert plain.status_code == 415 and plain.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "application/json" in plain.json()["message"]
    form = httpx.post(url, data={"experiment_id": exp})  # an HTML form's encoding
    assert form.status_code == 415
    assert stage(server, exp) == "active"
    # The server's own origin, and an origin the operator allowed, may write.
    same = httpx.post(url, content=body, headers={"Content-Type": "application/json", "Origin": server.url})
    assert same.status_code == 200, same.text
    assert stage(server, exp) == "deleted"
    restore = httpx.post(server.url + f"{API}/experiments/restore", content=body,
                         headers={"Content-Type": "application/json; charset=utf-8", "Origin": ALLOWED_ORIGIN})
    assert restore.status_code == 200, restore.text
    assert stage(server, exp) == "active"
    # Reads are not refused for their Origin: the browser's same-origin policy keeps their answers from the page.
    read = httpx.get(server.url + f"{API}/experiments/get", params={"experiment_id": exp}, headers={"Origin": EVIL})
    assert read.status_code == 200


def test_a_foreign_host_is_refused_and_learns_nothing(server):
    run_id = new_run(server)
    metric = json.dumps({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1})
    for method, path, body in [("GET", "/", None), ("GET", f"{API}/experiments/search?max_results=1", None),
                               ("POST", f"{API}/experiments/create", json.dumps({"name": "rebound"})),
                               ("POST", f"{API}/runs/log-metric", metric)]:
        r = httpx.request(method, server.url + path, content=body,
                          headers={"Host": "rebind.attacker.example", "Content-Type": "application/json"})
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error_code"] == "PERMISSION_DENIED"
        assert "attacker" not in r.text and "sqlite" not in r.text and "/tmp" not in r.text
    assert history(server, run_id) == []
    names = [e["name"] for e in httpx.get(server.url + f"{API}/experiments/search",
                                          params={"max_results": 1000}).json()["experiments"]]
    assert "rebound" not in names
    for host in ("localhost", f"localhost:{server.port}", "127.0.0.1", f"[::1]:{server.port}", ALLOWED_HOST,
                 "MLflow.Internal:80"):
        r = httpx.get(server.url + f"{API}/experiments/search", params={"max_results": 1}, headers={"Host": host})
        assert r.status_code == 200, (host, r.text)
    # The health probe answers a load balancer whatever name it uses.
    assert httpx.get(server.url + "/health", headers={"Host": "lb.internal"}).status_code == 200


def test_every_answer_forbids_framing_by_other_sites(server):
    run_id = new_run(server)
    answers = [
        httpx.get(server.url + "/"),
        httpx.get(server.url + f"{API}/experiments/search", params={"max_results": 1}),
        httpx.post(server.url + f"{API}/runs/log-metric",
                   json={"run_id": run_id, "key": "m", "value": 2.0, "timestamp": 1}),  # the hot path
        httpx.post(server.url + f"{API}/runs/log-metric", json={"run_id": run_id}),  # its error
        httpx.get(server.url + "/", headers={"Host": "evil.example"}),  # a refusal
        httpx.get(server.url + "/no/such/page"),
    ]
    for r in answers:
        assert r.headers["x-frame-options"] == "SAMEORIGIN", (r.request.url, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
    assert [r.status_code for r in answers] == [200, 200, 200, 400, 403, 404]


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page's form carries no CSRF token"
    return found.group(1)


def test_ui_form_posts_need_the_pages_token(server):
    name = f"ui-{uuid.uuid4().hex}"
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        token = _token(browser.get("/").text)
        assert browser.cookies["modelyard_csrf"] == token
        missing = browser.post("/experiments/create", data={"name": name})
        assert missing.status_code == 403 and "CSRF" in missing.text
        forged = browser.post("/experiments/create", data={"name": name, "csrf_token": "abc." + "0" * 32})
        assert forged.status_code == 403
        cross_site = browser.post("/experiments/create", data={"name": name, "csrf_token": token},
                                  headers={"Origin": EVIL})
        assert cross_site.status_code == 403
        with httpx.Client(base_url=server.url) as other:  # the token without its cookie
            assert other.post("/experiments/create", data={"name": name, "csrf_token": token}).status_code == 403
        found = httpx.get(server.url + f"{API}/experiments/get-by-name", params={"experiment_name": name})
        assert found.status_code == 404
        made = browser.post("/experiments/create", data={"name": name, "csrf_token": token})
        assert made.status_code == 303, made.text
        found = httpx.get(server.url + f"{API}/experiments/get-by-name", params={"experiment_name": name})
        assert found.status_code == 200
        # The experiments page now lists it, its forms carrying the same token.
        page = browser.get("/").text
        assert name in page and _token(page) == token


def test_hot_calls_are_refused_cross_site_too(server):
    run_id = new_run(server)
    conn = Conn(server)
    try:
        def answer(path: str, obj: dict[str, object], host: str = "127.0.0.1", **headers: str) -> tuple[int, str]:
            conn.send(request("POST", path, json.dumps(obj).encode(), host=host, **headers))
            status, head, body = conn.response()
            assert "connection" not in head  # a refusal keeps the connection usable
            assert head["x-frame-options"] == "SAMEORIGIN"
            return status, json.loads(body)["error_code"] if status != 200 else ""

        point = {"run_id": run_id, "key": "m", "value": 3.0, "timestamp": 1}
        for path in (f"{API}/runs/log-metric", "/ajax-api/2.0/mlflow/runs/log-metric"):
            assert answer(path, point, content_type="application/json", origin=EVIL) == (403, "PERMISSION_DENIED")
            assert answer(path, point, content_type="text/plain") == (415, "INVALID_PARAMETER_VALUE")
            assert answer(path, point, host="evil.example", content_type="application/json") == (
                403, "PERMISSION_DENIED")
        batch = {"run_id": run_id, "metrics": [{"key": "m", "value": 4.0, "timestamp": 2}]}
        assert answer(f"{API}/runs/log-batch", batch, content_type="text/plain", origin=EVIL)[0] == 403
        assert answer(f"{API}/runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"},
                      content_type="text/plain")[0] == 415
        assert answer(f"{API}/runs/update", {"run_id": run_id, "status": "KILLED"},
                      content_type="application/json", referer=EVIL + "/page")[0] == 403
        assert history(server, run_id) == []
        # The same connection then logs, from no page at all and from the server's own.
        assert answer(f"{API}/runs/log-metric", point, content_type="application/json") == (200, "")
        own = f"127.0.0.1:{server.port}"  # the Host a page of the server's own origin sends
        assert answer(f"{API}/runs/log-batch", batch, host=own, origin=server.url) == (200, "")  # no Content-Type
        assert history(server, run_id) == [3.0, 4.0]
        status = httpx.get(server.url + f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["info"]["status"]
        assert status == "RUNNING"
    finally:
        conn.close()


def test_the_mlflow_client_and_our_sdk_still_write(server):
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    official = MlflowClient(tracking_uri=server.url)
    exp = official.create_experiment(f"mlflow-{uuid.uuid4().hex}")
    run = official.create_run(exp)
    rid = run.info.run_id
    official.log_metric(rid, "m", 1.0, step=0)
    official.log_batch(rid, metrics=[Metric("m", 2.0, 0, 1)], params=[Param("p", "1")])
    official.set_tag(rid, "t", "v")
    official.set_terminated(rid)
    official.delete_experiment(exp)
    assert official.get_experiment(exp).lifecycle_stage == "deleted"
    official.restore_experiment(exp)

    ours = my.Client(server.url)
    try:
        run_id = ours.create_run(exp).info.run_id
        ours.log_metric(run_id, "m", 5.0, step=0)
        ours.log_batch(run_id, metrics=[my.Metric("m", float(i), 0, i) for i in range(1, 2001)])  # MessagePack ingest
        ours.set_tag(run_id, "t", "v")
        assert len(ours.get_metric_history(run_id, "m")) == 2001
    finally:
        ours.close()
    assert official.get_run(rid).data.metrics == {"m": 2.0}


def test_bound_to_every_interface_without_names_the_server_warns_and_answers_all(caplog):
    from modelyard.web.guard import Guard, host_names

    with caplog.at_level("WARNING", logger="modelyard.web.guard"):
        assert host_names("0.0.0.0", "", "MODELYARD_ALLOWED_HOSTS") == ["*"]
    assert "MODELYARD_ALLOWED_HOSTS" in caplog.text and "DNS rebinding" in caplog.text
    caplog.clear()
    names = host_names("0.0.0.0", "mlflow.example.com, *.corp.example", "MODELYARD_ALLOWED_HOSTS")
    assert not caplog.text and "*" not in names
    guard = Guard(names)
    for host, allowed in [(b"mlflow.example.com", True), (b"a.corp.example:5000", True), (b"corp.example", False),
                          (b"evil.example", False), (b"localhost:5000", True)]:
        assert (guard.check("GET", "/", [(b"host", host)]) is None) is allowed, host
    # An IP literal the connection came in on is no rebinding: a browser sends only names it resolved.
    assert guard.check("GET", "/", [(b"host", b"10.1.2.3:5000")], local="10.1.2.3") is None
    assert guard.check("GET", "/", [(b"host", b"10.1.2.4:5000")], local="10.1.2.3") is not None

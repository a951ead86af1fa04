"""Pipeline pages: runs list, a run's graph, timeline and logs, resume and re-run — in process and in Chromium."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelyard as my
from modelyard.pipelines import PipelineFailed, load_pipeline
from modelyard.server import create_app
from modelyard.service import TrackingService

from .conftest import with_csrf_token
from .seed import settings_for

HX = {"HX-Request": "true"}
FLOW = '''
import os
import sys

from modelyard.pipelines import pipeline, step


@step
def load(n: int) -> int:
    print("loading", n)
    return n


@step
def left(x: int) -> int:
    return x + 1


@step
def right(x: int, flag: str) -> int:
    print("right says <b>hi</b>", file=sys.stderr)
    if os.path.exists(flag):
        raise RuntimeError("broken <script>alert(1)</script>")
    return x * 2


@step
def join(a: int, b: int) -> int:
    return a + b


@pipeline
def diamond(n: int = 3, flag: str = ""):
    a = load(n)
    return join(left(a), right(a, flag))
'''


def run_diamond(folder: Path, tracking_uri: str) -> str:
    """Run the diamond with its ``right`` step failing (the flag file exists); the pipeline run id."""
    (folder / "flow.py").write_text(FLOW)
    flag = folder / "broken"
    flag.touch()
    my.set_tracking_uri(tracking_uri)
    try:
        with pytest.raises(PipelineFailed) as info:
            load_pipeline(f"{folder / 'flow.py'}:diamond").run({"flag": str(flag)}, executor="inline")
    finally:
        my.set_tracking_uri(None)
    return info.value.run_id


def register_flow(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The flow as an importable module of its own name (on sys.path and PYTHONPATH): the server runs only
    registered pipelines, so resume and re-run need ``diamond`` registered (its module in pipeline_modules)."""
    module = f"uiflow_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(FLOW)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("MODELYARD_PIPELINE_MODULES", module)
    return module


@pytest.fixture
def store(tmp_path, monkeypatch) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """The app in process over a store with a failed diamond run, then a fixed one hitting the cache."""
    from starlette.testclient import TestClient

    db, artifacts = f"sqlite:///{tmp_path / 'ui.db'}", str(tmp_path / "artifacts")
    failed = run_diamond(tmp_path, db)
    (tmp_path / "broken").unlink()
    my.set_tracking_uri(db)
    try:
        fixed = load_pipeline(f"{tmp_path / 'flow.py'}:diamond").run({"flag": str(tmp_path / "broken")},
                                                                       executor="inline").run_id
    finally:
        my.set_tracking_uri(None)
    module = register_flow(tmp_path, monkeypatch)
    svc = TrackingService(settings_for(db, artifacts).with_(pipeline_modules=module))
    steps = {s["task_key"]: s["run_id"] for s in svc.pipelines.get_run(failed)["steps"]}
    try:
        with TestClient(create_app(service=svc), follow_redirects=False) as client:
            with_csrf_token(client)
            yield client, {"failed": failed, "fixed": fixed, "module": module, **steps}
    finally:
        svc.close()


class FakeProcess:
    pid = 4242

    def __init__(self) -> None:
        self.alive = True

    def poll(self) -> int | None:
        return None if self.alive else 0


def launcher(client: Any) -> list[list[str]]:
    calls: list[list[str]] = []

    def launch(args: list[str]) -> FakeProcess:
        calls.append(args)
        return FakeProcess()

    client.app.state.pipeline_launcher = launch
    return calls


def test_runs_list_with_counts_filters_and_nav(store):
    client, ids = store
    r = client.get("/pipelines")
    assert r.status_code == 200
    html = r.text
    assert f'href="/pipelines/runs/{ids["failed"]}"' in html and f'href="/pipelines/runs/{ids["fixed"]}"' in html
    assert '<a href="/pipelines" aria-current="page">Pipelines</a>' in html
    assert "1 failed" in html and "1 skipped" in html and "2 cached" in html
    assert re.search(r'<td class="num">2</td>', html)  # the fixed run's cache hits
    failed_only = client.get("/pipelines", params={"status": "FAILED"}).text
    assert ids["failed"] in failed_only and ids["fixed"] not in failed_only
    assert "No pipeline runs match" in client.get("/pipelines", params={"pipeline": "nope"}).text
    assert ids["fixed"] in client.get("/pipelines", params={"pipeline": "diamond", "status": "finished"}).text


def test_runs_list_bad_filter_is_inline(store):
    client, _ = store
    r = client.get("/pipelines", params={"status": "<b>bogus</b>"})
    assert r.status_code == 400 and 'id="pipelines-error"' in r.text and "Unknown status" in r.text
    assert "<b>bogus</b>" not in r.text
    assert client.get("/pipelines", params={"status": "bogus"}, headers=HX).status_code == 200
    r = client.get("/pipelines", params={"page_token": "garbage"})
    assert r.status_code == 400 and 'role="alert"' in r.text


def test_run_page_graph_timeline_steps_and_logs(store):
    client, ids = store
    r = client.get(f"/pipelines/runs/{ids['failed']}")
    assert r.status_code == 200
    html = r.text
    nodes = dict(re.findall(r'data-step="(\w+)" data-status="(\w+)"', html))
    assert nodes == {"load": "FINISHED", "left": "FINISHED", "right": "FAILED", "join": "SKIPPED"}
    assert html.count('<path class="edge') == 3 and 'class="edge inferred"' in html  # right ⇢ join (skipped)
    assert html.count('<rect class="bar"') == 3 and "skipped, not run" in html
    for key in ("load", "left", "right", "join"):
        assert f'href="/runs/{ids[key]}"' in html
    # logs default to the failed step; user content is escaped
    assert "right says &lt;b&gt;hi&lt;/b&gt;" in html and "<b>hi</b>" not in html
    assert "broken &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "manual (CLI or SDK)" in html
    assert 'hx-trigger="every' not in html  # not live
    assert "Resume</button>" in html and "disabled aria-describedby" not in html
    trace = html[html.index('data-stream="traceback"'):]
    trace = trace[:trace.index("</pre>")]
    assert re.search(r'flow\.py&#34;, line \d+, in right', trace) and "RuntimeError: broken &lt;script&gt;" in trace
    assert html.index('data-stream="traceback"') < html.index('data-stream="stderr"')
    step_run = client.get(f"/runs/{ids['right']}/artifacts/raw", params={"path": "logs/traceback.txt"})
    assert step_run.status_code == 200 and "in right" in step_run.text
    load_logs = client.get(f"/pipelines/runs/{ids['failed']}", params={"step": "load"}).text
    assert "loading 3" in load_logs and "Nothing written to stderr." in load_logs
    assert 'data-stream="traceback"' not in load_logs and "Nothing written to traceback" not in load_logs
    missing = client.get(f"/pipelines/runs/{ids['failed']}", params={"step": "<i>nope</i>"})
    assert missing.status_code == 200 and "No step &#39;&lt;i&gt;nope&lt;/i&gt;&#39;" in missing.text


def test_cache_hits_are_marked_and_finished_run_cannot_resume(store):
    client, ids = store
    html = client.get(f"/pipelines/runs/{ids['fixed']}").text
    nodes = dict(re.findall(r'data-step="(\w+)" data-status="(\w+)"', html))
    assert nodes == {"load": "CACHED", "left": "CACHED", "right": "FINISHED", "join": "FINISHED"}
    assert html.count('class="cache-mark"') == 2 and "cache hit" in html
    assert "Every step finished: nothing to resume" in html


def test_a_step_run_id_leads_to_its_pipeline_run(store):
    client, ids = store
    r = client.get(f"/pipelines/runs/{ids['right']}")
    assert r.status_code == 303 and r.headers["location"] == f"/pipelines/runs/{ids['failed']}?step=right#logs"


def test_missing_runs_are_html_error_pages(store):
    client, _ = store
    for url in ("/pipelines/runs/nope", "/pipelines/runs/0123456789abcdef0123456789abcdef"):
        r = client.get(url)
        assert r.status_code in (400, 404) and r.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in r.text
    r = client.post("/pipelines/runs/0123456789abcdef0123456789abcdef/resume")
    assert r.status_code == 404 and 'role="alert"' in r.text


def test_resume_launches_the_cli_once(store):
    client, ids = store
    calls = launcher(client)
    r = client.post(f"/pipelines/runs/{ids['failed']}/resume")
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(f"/pipelines/runs/{ids['failed']}?started=resume&at=")
    assert len(calls) == 1
    assert calls[0][1:6] == ["-m", "modelyard.cli", "pipelines", "resume", ids["failed"]]
    assert calls[0][calls[0].index("--reference") + 1] == f"{ids['module']}:diamond"  # the registered pipeline
    assert calls[0][calls[0].index("--tracking-uri") + 1].startswith("http://127.0.0.1:")
    page = client.get(location).text
    assert 'id="started"' in page and 'hx-trigger="every' in page  # follows the run while it starts
    again = client.post(f"/pipelines/runs/{ids['failed']}/resume")
    assert again.status_code == 400 and "already starting (process 4242)" in again.text and len(calls) == 1
    finished = client.post(f"/pipelines/runs/{ids['fixed']}/resume")
    assert finished.status_code == 400 and 'id="action-error"' in finished.text and "nothing to resume" in finished.text
    assert len(calls) == 1


def test_rerun_launches_a_new_run_with_the_same_params(store, tmp_path):
    client, ids = store
    calls = launcher(client)
    r = client.post(f"/pipelines/runs/{ids['failed']}/rerun", headers=HX)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/pipelines?pipeline=diamond&started=rerun&at=")
    args = calls[0]
    assert args[3:6] == ["pipelines", "run", f"{ids['module']}:diamond"]  # registered, not the recorded file
    assert args[args.index("--params-json") + 1] == f'{{"flag": "{tmp_path / "broken"}", "n": 3}}'
    assert args[args.index("--trigger") + 1] == f"rerun:{ids['failed']}"
    assert args[args.index("--executor") + 1] == "inline"
    page = client.get(r.headers["HX-Redirect"]).text
    assert "Re-run started" in page and 'hx-trigger="every' in page


def test_resume_and_rerun_of_an_unregistered_pipeline_are_refused(store):
    from modelyard.service.pipeline_registry import PipelineRegistry

    client, ids = store
    client.app.state.service.pipelines.registry = PipelineRegistry("", use_entry_points=False)  # nothing registered
    calls = launcher(client)
    for action in ("resume", "rerun"):
        r = client.post(f"/pipelines/runs/{ids['failed']}/{action}")
        assert r.status_code == 400 and "is not registered on this server" in r.text
        assert "MODELYARD_PIPELINE_MODULES" in r.text
    assert calls == []  # the file the run recorded is never launched


def test_launch_failure_is_an_inline_error(store):
    client, ids = store

    def broken(args: list[str]) -> None:
        raise OSError("no such interpreter")

    client.app.state.pipeline_launcher = broken
    r = client.post(f"/pipelines/runs/{ids['failed']}/rerun")
    assert r.status_code == 400 and "Could not start the re-run: no such interpreter" in r.text


def test_with_auth_a_run_started_from_the_ui_acts_as_the_caller(store, tmp_path):
    """With --auth the subprocess gets a token of the signed-in caller (so it can report to the server);
    a caller without EDIT on the run starts nothing."""
    import base64

    from starlette.testclient import TestClient

    plain, ids = store
    password = "correct horse battery"
    settings = plain.app.state.service.settings.with_(
        auth=True, auth_admin_username="root", auth_admin_password=password,
        auth_default_permission="NO_PERMISSIONS", csrf_secret="pipeline test secret")
    svc = TrackingService(settings)
    try:
        with TestClient(create_app(service=svc), follow_redirects=False) as client:
            def basic(user: str) -> dict[str, str]:
                return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

            made = client.post("/api/2.0/mlflow/users/create", json={"username": "viewer", "password": password},
                               headers=basic("root"))
            assert made.status_code == 200, made.text
            from modelyard.server.ui.csrf import COOKIE, HEADER

            page = client.get("/pipelines", headers=basic("root"))
            assert page.status_code == 200
            client.headers[HEADER] = page.cookies[COOKIE]
            client.cookies[COOKIE] = page.cookies[COOKIE]
            seen: list[tuple[list[str], dict[str, str] | None]] = []
            client.app.state.pipeline_launcher = lambda args, env=None: seen.append((args, env)) or FakeProcess()
            refused = client.post(f"/pipelines/runs/{ids['failed']}/rerun", headers=basic("viewer"))
            assert refused.status_code == 403 and seen == []
            started = client.post(f"/pipelines/runs/{ids['failed']}/rerun", headers=basic("root"))
            assert started.status_code == 303, started.text
            (_args, env), = seen
            assert env is not None and set(env) == {"MODELYARD_TRACKING_TOKEN"}
            me = client.get("/api/2.0/mlflow/users/current",
                            headers={"Authorization": f"Bearer {env['MODELYARD_TRACKING_TOKEN']}"})
            assert me.status_code == 200 and me.json()["user"]["username"] == "root"
            tokens = svc.auth.list_tokens("root")
            assert [t.name for t in tokens] == [f"pipeline re-run of {ids['failed']}"]
            assert tokens[0].expires_ms is not None
    finally:
        svc.close()


# ---- in Chromium, against a real server: resume for real ---------------------------------------


def test_browser_graph_then_resume(tmp_path, monkeypatch):
    from ..conftest import LiveServer
    from . import test_browser as tb  # skips when Chromium or Playwright is missing

    register_flow(tmp_path, monkeypatch)  # the server subprocess and the run it starts inherit the environment
    server = LiveServer(f"sqlite:///{tmp_path / 'ui.db'}", str(tmp_path / "artifacts"))
    try:
        run_id = run_diamond(tmp_path, server.url)
        with tb.sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=tb.CHROMIUM, args=tb.FLAGS)
            try:
                _drive(browser, server.url, run_id, tmp_path)
            finally:
                browser.close()
    finally:
        server.stop()


def _drive(browser: Any, url: str, run_id: str, folder: Path) -> None:
    from . import test_browser as tb

    expect = tb.sync_api.expect
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    page.get_by_role("link", name="Pipelines", exact=True).click()
    page.wait_for_url(re.compile(r"/pipelines$"))
    row = page.locator("table.pipeline-runs tbody tr", has_text=run_id[:12])
    expect(row).to_contain_text("FAILED")
    expect(row).to_contain_text("1 failed")
    tb.shot(page, "pipelines")
    row.get_by_role("link", name=run_id[:12]).click()
    page.wait_for_url(re.compile(rf"/pipelines/runs/{run_id}"))
    expect(page.locator("svg.dag a.node")).to_have_count(4)
    expect(page.locator("svg.dag a.node[data-status=FAILED]")).to_have_attribute("data-step", "right")
    expect(page.locator("svg.gantt rect.bar")).to_have_count(3)
    expect(page.locator("#logs pre[data-stream=stderr]")).to_contain_text("right says <b>hi</b>")
    page.get_by_role("link", name="Logs of load").click()
    expect(page.locator("#logs pre[data-stream=stdout]")).to_contain_text("loading 3")
    expect(page).to_have_url(re.compile(r"step=load"))
    tb.shot(page, "pipeline-run-failed")

    (folder / "broken").unlink()  # fix the failure, then resume from the page
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#started")).to_contain_text("Resume started")
    expect(page.locator("#h-run .status")).to_have_text("FINISHED", timeout=45_000)
    nodes = page.locator("svg.dag a.node")
    statuses = sorted(nodes.nth(i).get_attribute("data-status") or "" for i in range(nodes.count()))
    assert statuses == ["FINISHED"] * 4, statuses
    expect(page.get_by_role("button", name="Resume")).to_be_disabled()
    page.get_by_role("link", name="Logs of right").click()
    expect(page.locator("#logs h2 .status")).to_have_text("FINISHED")
    expect(page.locator("#logs")).not_to_contain_text("RuntimeError")
    tb.shot(page, "pipeline-run-resumed")
    context.close()
    assert not errors, errors
    assert httpx.get(f"{url}/api/2.0/modelyard/pipelines/runs/get", params={"run_id": run_id}).json()[
        "pipeline_run"]["status"] == "FINISHED"

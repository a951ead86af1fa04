"""Issue 13, defect 1: no code execution through pipeline triggers, schedules or the pipeline pages.

The attack, against a live server: PUT a Python file as an artifact through
``/api/2.0/mlflow-artifacts/artifacts/...``, then create a trigger (or a cron
schedule) whose ``reference`` names that file, and fire it. The file would write a
marker when imported: it must never exist. Schedules and triggers stored before
registration existed (naming a file) must not run either. A pipeline registered
by the operator (``MODELYARD_PIPELINE_MODULES``) is triggered and runs, and a run
the server launches does not load a cached pickle that a client could have
replaced (through the same artifact proxy).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_service
from tests.pipelines.conftest import wait_for

P = "/api/2.0/modelyard/pipelines"
TOKEN = "legacy-token-of-a-trigger-stored-before-registration"
EVIL = '''
import pathlib

pathlib.Path({marker!r}).write_text("the server ran a client's file")

from modelyard.pipelines import pipeline


@pipeline
def x():
    return 1
'''
GOOD = '''
import pathlib

from modelyard.pipelines import pipeline, step


@step
def touch(path: str) -> str:
    pathlib.Path(path).write_text("a registered pipeline ran")
    return path


@pipeline
def touch_marker(path: str = ""):
    return touch(path)

'''


class Attack:
    """A live server (SQLite) registering one module of its operator's, with legacy rows naming a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.artifacts = folder / "artifacts"
        self.evil_marker = folder / "evil-ran"
        self.good_module = f"operator_flows_{uuid.uuid4().hex[:8]}"
        (folder / "code").mkdir()
        (folder / "code" / f"{self.good_module}.py").write_text(GOOD)
        self.db = f"sqlite:///{folder / 'server.db'}"
        self.legacy_file = folder / "legacy.py"  # a file on the server's disk, named by rows stored before the fix
        self.legacy_file.write_text(EVIL.format(marker=str(self.evil_marker)))
        self.server: LiveServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def seed_legacy_rows(self) -> None:
        """A schedule and a trigger naming a file, as an older server accepted them (straight into the store)."""
        svc = make_service(self.db, self.folder)
        try:
            now = int(time.time() * 1000)
            svc.store.pipelines.insert_schedule({
                "name": "legacy-schedule", "reference": f"{self.legacy_file}:x", "cron": "* * * * * *", "params": "{}",
                "executor": "inline", "date_param": None, "catchup": False, "paused": False, "created_time": now,
                "next_tick_time": now,
            })
            svc.store.pipelines.insert_trigger({
                "name": "legacy-trigger", "kind": "http", "reference": f"{self.legacy_file}:x", "params": "{}",
                "executor": "inline", "config": "{}", "token_hash": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "cursor": None, "paused": False, "created_time": now,
            })
        finally:
            svc.close()


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    a = Attack(tmp_path_factory.mktemp("pipeline-rce"))
    a.seed_legacy_rows()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELYARD_PIPELINE_MODULES", f"{a.good_module},tests.pipelines.flows")
        mp.setenv("PYTHONPATH", str(a.folder / "code"))  # the operator's code: importable by the server and its runs
        a.server = LiveServer(a.db, str(a.artifacts))
    try:
        yield a
    finally:
        a.server.stop()


def _upload_evil(attack: Attack, name: str) -> Path:
    """PUT the evil file as an artifact, as the attacker does; where it lands on the server's disk."""
    r = httpx.put(f"{attack.url}/api/2.0/mlflow-artifacts/artifacts/0/x/{name}",
                  content=EVIL.format(marker=str(attack.evil_marker)).encode())
    assert r.status_code == 200, r.text
    landed = attack.artifacts / "0" / "x" / name
    assert landed.is_file()
    return landed


def _assert_refused(r: httpx.Response, attack: Attack) -> str:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    message = body["message"]
    assert "reference" in message  # the field
    assert "MODELYARD_PIPELINE_MODULES" in message and "modelyard.pipelines" in message  # how to register
    assert "touch_marker" in message  # what is registered
    assert str(attack.artifacts) not in message and str(attack.folder) not in message  # no server path
    return message


def _references(attack: Attack, evil: Path) -> list[str]:
    """The ways a client could name the uploaded file: its path, relative, and as a module under the artifacts root."""
    return [f"{evil}:x", f"{evil}", "0/x/evil.py:x", "artifacts.0.x.evil:x", "evil", "x"]


def test_a_trigger_naming_an_uploaded_file_is_refused_and_the_file_never_runs(attack):
    evil = _upload_evil(attack, "evil.py")
    for i, reference in enumerate(_references(attack, evil)):
        r = httpx.post(f"{attack.url}{P}/triggers/create",
                       json={"name": f"evil-{i}", "kind": "http", "reference": reference, "executor": "inline"})
        message = _assert_refused(r, attack)
        assert ("names a file or module" in message) == (":" in reference or "/" in reference)
        fired = httpx.post(f"{attack.url}{P}/triggers/fire", json={"name": f"evil-{i}"},
                           headers={"Authorization": "Bearer guessed"})
        assert fired.status_code == 403  # no trigger was made, so there is nothing to fire
    names = [t["name"] for t in httpx.get(f"{attack.url}{P}/triggers/list").json().get("triggers", [])]
    assert not [n for n in names if n.startswith("evil-")]
    assert not attack.evil_marker.exists()


def test_a_schedule_naming_an_uploaded_file_is_refused_and_the_file_never_runs(attack):
    evil = _upload_evil(attack, "evil_cron.py")
    for i, reference in enumerate(_references(attack, evil)):
        r = httpx.post(f"{attack.url}{P}/schedules/create",
                       json={"name": f"evil-cron-{i}", "reference": reference, "cron": "* * * * * *",
                             "executor": "inline"})
        _assert_refused(r, attack)
    names = [s["name"] for s in httpx.get(f"{attack.url}{P}/schedules/list").json().get("schedules", [])]
    assert not [n for n in names if n.startswith("evil-cron-")]
    assert not attack.evil_marker.exists()


def test_a_trigger_stored_naming_a_file_is_fired_but_never_runs_it(attack):
    fired = httpx.post(f"{attack.url}{P}/triggers/fire", json={"name": "legacy-trigger"},
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert fired.status_code == 200 and fired.json()["event_id"]

    def status() -> str | None:
        events = httpx.get(f"{attack.url}{P}/triggers/events", params={"name": "legacy-trigger"}).json()["events"]
        return events[0]["status"] if events and events[0]["status"] not in ("pending", "claimed") else None

    assert wait_for(status) == "unregistered"  # a clear recorded outcome; the file was not imported
    assert not attack.evil_marker.exists()


def test_a_schedule_stored_naming_a_file_ticks_but_never_runs_it(attack):
    def ticks() -> list[dict[str, Any]]:
        found = httpx.get(f"{attack.url}{P}/schedules/ticks", params={"name": "legacy-schedule"}).json()["ticks"]
        return [t for t in found if t["status"] != "claimed"]

    assert {t["status"] for t in wait_for(ticks)} == {"unregistered"}
    httpx.post(f"{attack.url}{P}/schedules/update", json={"name": "legacy-schedule", "paused": True})
    assert not attack.evil_marker.exists()


def test_the_pipeline_pages_never_launch_a_recorded_file(attack):
    """A client records a pipeline run naming the file; the pages' re-run and resume must not launch it."""
    evil = _upload_evil(attack, "evil_ui.py")
    run = httpx.post(f"{attack.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    recorded = httpx.post(f"{attack.url}{P}/record", json={"pipeline_run": {
        "run_uuid": run["run_id"], "pipeline": "x", "reference": f"{evil}:x", "status": "FAILED"}})
    assert recorded.status_code == 200, recorded.text
    for action in ("rerun", "resume"):
        r = httpx.post(f"{attack.url}/pipelines/runs/{run['run_id']}/{action}")
        assert r.status_code in (400, 403)  # not registered (or, behind the CSRF check, no token)
        assert "Resume started" not in r.text and "Re-run started" not in r.text
    time.sleep(1.0)  # a launched process would have imported the file by now
    assert not attack.evil_marker.exists()


def test_a_registered_pipeline_is_listed_triggered_and_runs(attack):
    listed = httpx.get(f"{attack.url}{P}/registered").json()["pipelines"]
    assert {"name": "touch_marker", "reference": f"{attack.good_module}:touch_marker", "source": "setting"} in listed
    marker = attack.folder / "good-ran"
    made = httpx.post(f"{attack.url}{P}/triggers/create",
                      json={"name": "good", "kind": "http", "reference": "touch_marker",
                            "params": {"path": str(marker)}, "executor": "inline"})
    assert made.status_code == 200, made.text
    trigger = made.json()["trigger"]
    assert trigger["reference"] == "touch_marker"
    fired = httpx.post(f"{attack.url}{P}/triggers/fire", json={"name": "good"},
                       headers={"Authorization": f"Bearer {trigger['token']}"})
    assert fired.status_code == 200
    wait_for(marker.exists)
    assert marker.read_text() == "a registered pipeline ran"

    def finished() -> list[dict[str, Any]]:
        runs = httpx.get(f"{attack.url}{P}/runs/search", params={"pipeline": "touch_marker"}).json()
        return [r for r in runs.get("pipeline_runs", []) if r["status"] == "FINISHED"]

    run = wait_for(finished)[0]
    assert run["trigger"] == "trigger:good" and run["reference"] == f"{attack.good_module}:touch_marker"
    assert not attack.evil_marker.exists()


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('a cached pickle ran')",))


def _fire(attack: Attack, name: str, token: str) -> None:
    r = httpx.post(f"{attack.url}{P}/triggers/fire", json={"name": name},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def _finished_runs(attack: Attack, pipeline: str, count: int) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]]:
        runs = httpx.get(f"{attack.url}{P}/runs/search", params={"pipeline": pipeline}).json()
        done = [r for r in runs.get("pipeline_runs", []) if r["status"] in ("FINISHED", "FAILED")]
        return done if len(done) >= count else []

    return wait_for(finished)


def _steps(attack: Attack, run_id: str) -> dict[str, dict[str, Any]]:
    run = httpx.get(f"{attack.url}{P}/runs/get", params={"run_id": run_id}).json()["pipeline_run"]
    return {s["step"]: s for s in run["steps"]}


def test_a_run_the_server_launches_never_loads_a_cached_pickle(attack):
    """The cache entry's pickle is replaced through the artifact proxy; the next triggered run recomputes the step."""
    import pickle

    made = httpx.post(f"{attack.url}{P}/triggers/create", json={
        "name": "boxes", "kind": "http", "reference": "boxes", "params": {"n": 7}, "executor": "inline"})
    assert made.status_code == 200, made.text
    token = made.json()["trigger"]["token"]
    _fire(attack, "boxes", token)
    first = _finished_runs(attack, "boxes", 1)[0]
    assert first["status"] == "FINISHED" and first["output"]["value"] == 15
    ref = _steps(attack, first["run_id"])["boxed"]["output"]
    assert ref["kind"] == "pickle"
    stored = Path(ref["artifact_uri"].removeprefix("file://")) / ref["path"]
    location = stored.relative_to(attack.artifacts)  # the same file, as the artifact proxy names it
    marker = attack.folder / "cached-pickle-ran"
    r = httpx.put(f"{attack.url}/api/2.0/mlflow-artifacts/artifacts/{location}", content=pickle.dumps(_Boom(marker)))
    assert r.status_code == 200, r.text
    assert stored.read_bytes() == pickle.dumps(_Boom(marker))  # the cache entry now points at the attacker's pickle
    _fire(attack, "boxes", token)
    runs = _finished_runs(attack, "boxes", 2)
    second = next(r for r in runs if r["run_id"] != first["run_id"])
    assert second["status"] == "FINISHED" and second["output"]["value"] == 15
    assert _steps(attack, second["run_id"])["boxed"]["status"] == "FINISHED"  # recomputed, not CACHED
    assert not marker.exists()

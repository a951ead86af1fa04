"""With ``--auth`` the hot path (MLflow's six small writes) checks each operation's permission itself.

The permission is the one the table of operations declares (EDIT on the run's experiment, or on the
experiment of ``runs/create``), read from the same cached grants as the routes; a refused call is
answered 403 ``PERMISSION_DENIED`` (401 without credentials) with the routes' bodies and writes
nothing — alone, through the store's writer, and in a group committed together.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.server import create_app
from modelyard.server.hotpath import CALLS
from modelyard.settings import Settings
from tests.asgi import call as asgi_call

API = "/api/2.0/mlflow"
PASSWORD = "correct horse battery"
DENIED = {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}


def _basic(user: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode())


async def call(app: Any, path: str, body: dict[str, Any], user: str | None,
               api: str = API) -> tuple[int, dict[str, Any]]:
    """One POST to ``api + path`` through the whole app (every middleware), as ``user`` (HTTP Basic)."""
    headers = [(b"authorization", _basic(user))] if user is not None else []
    answer = await asgi_call(app, "POST", api + path, [json.dumps(body).encode()], headers=headers)
    assert answer is not None
    return answer[0], json.loads(answer[2])


@pytest.fixture(params=[True, False], ids=["on-the-loop", "through-the-writer"])
def world(request: pytest.FixtureRequest, db_uri: str, tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_default_permission="NO_PERMISSIONS",
                        auth_cache_seconds=600.0, inline_small_requests=request.param)
    app = create_app(settings)
    svc = app.state.service
    svc.auth.ensure_admin()
    exp = svc.experiments.create("guarded")
    run = svc.runs.create(exp).info.run_id
    for user, level in (("reader", "READ"), ("editor", "EDIT")):
        svc.auth.create_user(user, PASSWORD)
        svc.auth.grant(user, "experiment", exp, level)
    try:
        yield app, exp, run
    finally:
        app.hot.close()
        svc.close()


def bodies(exp: str, run: str) -> dict[str, dict[str, Any]]:
    """A valid request for each hot call."""
    return {
        "/runs/create": {"experiment_id": exp},
        "/runs/update": {"run_id": run, "status": "RUNNING"},
        "/runs/log-metric": {"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 7},
        "/runs/log-parameter": {"run_id": run, "key": "p", "value": "1"},
        "/runs/set-tag": {"run_id": run, "key": "t", "value": "v"},
        "/runs/log-batch": {"run_id": run, "metrics": [{"key": "b", "value": 2.0, "timestamp": 1}]},
    }


def test_each_hot_call_needs_edit_on_the_experiment(world: tuple[Any, str, str]) -> None:
    app, exp, run = world
    svc = app.state.service
    requests = bodies(exp, run)
    assert {path.removeprefix(API) for _, path in CALLS if path.startswith(API)} == set(requests)  # each 2.0 hot call
    assert {("POST", API + path) for path in requests} <= set(app.hot.calls)

    async def calls(user: str | None) -> list[tuple[int, dict[str, Any]]]:
        return [await call(app, path, body, user) for path, body in requests.items()]

    for answer in asyncio.run(calls(None)):
        assert answer[0] == 401 and answer[1]["error_code"] == "UNAUTHENTICATED"
    assert asyncio.run(calls("reader")) == [(403, DENIED)] * len(requests)
    stored = svc.runs.get(run)
    assert (stored.data.metrics, stored.data.params) == ({}, {})
    assert "t" not in stored.data.tags
    assert len(list(svc.runs.search([exp]))) == 1  # no run created

    answers = asyncio.run(calls("editor"))
    assert [status for status, _ in answers] == [200] * len(requests)
    stored = svc.runs.get(run)
    assert stored.data.metrics == {"m": 1.0, "b": 2.0} and stored.data.params == {"p": "1"}
    assert stored.data.tags["t"] == "v"
    assert len(list(svc.runs.search([exp]))) == 2


def test_refused_calls_in_a_group_write_nothing_and_the_others_stand(world: tuple[Any, str, str]) -> None:
    app, _exp, run = world
    svc = app.state.service
    groups: list[int] = []
    answer_group = app.hot.answer_group

    def counted(calls: list[Any]) -> Any:  # the real method, its group sizes noted
        groups.append(len(calls))
        return answer_group(calls)

    app.hot.answer_group = counted

    async def together() -> list[tuple[int, dict[str, Any]]]:
        for user in ("reader", "editor"):  # credentials verified once (a thread's work), then known at once
            await call(app, "/runs/set-tag", {"run_id": run, "key": "t", "value": user}, user)
        return await asyncio.gather(*[
            call(app, "/runs/log-metric", {"run_id": run, "key": "m", "value": float(i), "timestamp": i, "step": i},
                 "editor" if i % 2 else "reader")
            for i in range(20)])

    answers = asyncio.run(together())
    assert answers == [(200, {}) if i % 2 else (403, DENIED) for i in range(20)]
    steps = sorted(p.step for p in svc.runs.metric_history(run, "m").items)
    assert steps == list(range(1, 20, 2))
    assert svc.runs.get(run).data.tags["t"] == "editor"
    if app.hot.inline and app.hot.writer is not None:
        assert max(groups) > 1  # the editor's calls were committed together


def test_the_official_clients_trace_start_needs_edit_too(world: tuple[Any, str, str]) -> None:
    """``POST /api/3.0/mlflow/traces`` (once per trace) is a hot call too: the table's permission holds."""
    app, exp, _run = world
    svc = app.state.service

    def body(n: int) -> dict[str, Any]:
        return {"trace": {"trace_info": {
            "trace_id": f"tr-{n:032x}", "request_time": "2026-12-06T00:00:00Z", "execution_duration": "1s",
            "state": "OK", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}}}}

    async def start(n: int, user: str | None) -> tuple[int, dict[str, Any]]:
        return await call(app, "/traces", body(n), user, api="/api/3.0/mlflow")

    assert asyncio.run(start(1, None))[0] == 401
    assert asyncio.run(start(2, "reader")) == (403, DENIED)
    status, answer = asyncio.run(start(3, "editor"))
    assert status == 200 and answer["trace"]["trace_info"]["trace_id"] == f"tr-{3:032x}"
    found = [t.trace_id for t in svc.traces.search([exp])[0]]
    assert found == [f"tr-{3:032x}"]

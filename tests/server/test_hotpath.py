"""The hot path answers MLflow's small write calls exactly as the Starlette routes would."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware

from modelyard.server import create_app
from modelyard.server.hotpath import CALLS
from modelyard.settings import Settings
from modelyard.web.http_limits import LimitedConnection
from tests.asgi import call

API = "/api/2.0/mlflow"
REQUEST_LIMIT = 4096
BATCH_LIMIT = 3000
MISSING_RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def app(db_uri: str, tmp_path) -> Iterator[Any]:
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, max_request_bytes=REQUEST_LIMIT, max_log_batch_bytes=BATCH_LIMIT)
    app = create_app(settings)
    yield app
    app.hot.close()
    app.state.service.close()


def through_router(app: Any) -> Any:
    """The app's routes without the hot path: Starlette's error middleware, exception handlers and router."""
    handlers = {k: v for k, v in app.exception_handlers.items() if k not in (500, Exception)}
    routed = ServerErrorMiddleware(ExceptionMiddleware(app.router, handlers=handlers),
                                   handler=app.exception_handlers.get(Exception))

    async def run(scope: Any, receive: Any, send: Any) -> None:
        await routed({**scope, "app": app}, receive, send)

    return run


def new_run(app: Any) -> str:
    svc = app.state.service
    return svc.runs.create(svc.experiments.create(f"hot-{uuid.uuid4().hex}")).info.run_id


def cases(run_id: str) -> list[tuple[str, str, list[bytes], bool, int, str]]:
    """(name, path, body chunks, declared length, status, error code or "" for success)."""
    def js(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    big_batch = js({"run_id": run_id, "params": [{"key": f"k{i}", "value": "v" * 200} for i in range(20)]})
    return [
        ("log-metric", "/runs/log-metric", [js({"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 1})], True, 200, ""),
        ("bad JSON", "/runs/log-metric", [b'{"run_id": "' + run_id.encode() + b'", "key": '], True, 400, "MALFORMED_REQUEST"),
        ("not an object", "/runs/log-metric", [b"[1, 2]"], True, 400, "INVALID_PARAMETER_VALUE"),
        ("empty body", "/runs/log-metric", [b""], True, 400, "INVALID_PARAMETER_VALUE"),
        ("missing value", "/runs/log-metric", [js({"run_id": run_id, "key": "m", "timestamp": 1})], True, 400,
         "INVALID_PARAMETER_VALUE"),
        ("wrong type", "/runs/log-metric", [js({"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1})],
         True, 400, "INVALID_PARAMETER_VALUE"),
        ("bad key", "/runs/log-metric", [js({"run_id": run_id, "key": "../m", "value": 1, "timestamp": 1})], True,
         400, "INVALID_PARAMETER_VALUE"),
        ("unknown run", "/runs/log-metric", [js({"run_id": MISSING_RUN, "key": "m", "value": 1, "timestamp": 1})],
         True, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("oversize, declared", "/runs/log-parameter", [js({"run_id": run_id, "key": "p", "value": "x" * 5000})],
         True, 413, "REQUEST_LIMIT_EXCEEDED"),
        ("oversize, chunked", "/runs/log-parameter",
         [js({"run_id": run_id, "key": "p", "value": "x" * 5000})[i:i + 1000] for i in range(0, 5100, 1000)],
         False, 413, "REQUEST_LIMIT_EXCEEDED"),
        ("batch oversize, declared", "/runs/log-batch", [big_batch], True, 400, "INVALID_PARAMETER_VALUE"),
        ("batch oversize, chunked", "/runs/log-batch", [big_batch[i:i + 1000] for i in range(0, len(big_batch), 1000)],
         False, 400, "INVALID_PARAMETER_VALUE"),
        ("batch over MLflow's count", "/runs/log-batch",
         [js({"run_id": run_id, "tags": [{"key": f"t{i}", "value": ""} for i in range(101)]})], True, 400,
         "INVALID_PARAMETER_VALUE"),
        ("param without value", "/runs/log-parameter", [js({"run_id": run_id, "key": "p"})], True, 400,
         "INVALID_PARAMETER_VALUE"),
        ("tag on unknown run", "/runs/set-tag", [js({"run_id": MISSING_RUN, "key": "t", "value": "v"})], True, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("bad status", "/runs/update", [js({"run_id": run_id, "status": "SLEEPING"})], True, 400,
         "INVALID_PARAMETER_VALUE"),
        ("unknown experiment", "/runs/create", [js({"experiment_id": "424242"})], True, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("bad experiment id", "/runs/create", [js({"experiment_id": "x1"})], True, 400, "INVALID_PARAMETER_VALUE"),
    ]


def test_hot_path_answers_like_the_routes(app):
    run_id = new_run(app)

    async def both() -> None:
        for name, path, chunks, declared, status, code in cases(run_id):
            for prefix in (API, "/ajax-api/2.0/mlflow"):
                scope_path = prefix + path
                assert app.hot.find({"method": "POST", "path": scope_path}) is not None, name
                hot = await call(app, "POST", scope_path, chunks, declare_length=declared)
                routed = await call(through_router(app), "POST", scope_path, chunks, declare_length=declared)
                assert hot is not None and routed is not None
                assert hot[0] == routed[0] == status, (name, hot, routed)
                assert json.loads(hot[2]) == json.loads(routed[2]), name
                assert hot[1]["content-type"] == routed[1]["content-type"] == "application/json"
                assert int(hot[1]["content-length"]) == len(hot[2])
                if code:
                    err = json.loads(hot[2])
                    assert err["error_code"] == code, (name, err)
                    assert err["message"], name

    asyncio.run(both())
    # Only the successful calls wrote anything: no params, no tags but the name.
    run = app.state.service.runs.get(run_id)
    assert run.data.metrics == {"m": 1.5} and run.data.params == {}
    assert set(run.data.tags) == {"mlflow.runName"}
    assert [p.value for p in history(app, run_id)] == [1.5]  # the same point four times is stored once


def test_every_write_call_lands_through_the_hot_path(app):
    svc = app.state.service
    exp = svc.experiments.create("hot-writes")

    async def writes() -> str:
        status, _, body = await call(app, "POST", f"{API}/runs/create", [json.dumps(
            {"experiment_id": exp, "run_name": "r1", "start_time": 5, "tags": [{"key": "a", "value": "1"}]}).encode()])
        assert status == 200
        created = json.loads(body)["run"]
        assert created["info"]["run_name"] == "r1" and created["info"]["status"] == "RUNNING"
        rid = created["info"]["run_id"]
        for path, payload in [
            ("/runs/log-metric", {"run_id": rid, "key": "loss", "value": 0.5, "timestamp": 10, "step": 1}),
            ("/runs/log-parameter", {"run_id": rid, "key": "lr", "value": "0.1"}),
            ("/runs/set-tag", {"run_uuid": rid, "key": "b", "value": "2"}),
            ("/runs/log-batch", {"run_id": rid, "metrics": [{"key": "acc", "value": 0.9, "timestamp": 11}],
                                 "params": [{"key": "depth", "value": "3"}], "tags": [{"key": "c", "value": "3"}]}),
        ]:
            status, _, body = await call(app, "POST", API + path, [json.dumps(payload).encode()])
            assert (status, json.loads(body)) == (200, {}), path
        status, _, body = await call(app, "POST", f"{API}/runs/update", [json.dumps(
            {"run_id": rid, "status": "FINISHED", "end_time": 20}).encode()])
        assert status == 200 and json.loads(body)["run_info"]["status"] == "FINISHED"
        return rid

    rid = asyncio.run(writes())
    run = svc.runs.get(rid)
    assert run.info.status == "FINISHED" and run.info.end_time == 20
    assert run.data.metrics == {"loss": 0.5, "acc": 0.9}
    assert run.data.params == {"lr": "0.1", "depth": "3"}
    assert {"a": "1", "b": "2", "c": "3", "mlflow.runName": "r1"}.items() <= run.data.tags.items()


def test_concurrent_writes_are_all_acknowledged_and_stored(app):
    run_id = new_run(app)

    async def many() -> list[Any]:
        return await asyncio.gather(*[
            call(app, "POST", f"{API}/runs/log-metric",
                 [json.dumps({"run_id": run_id, "key": "m", "value": i, "timestamp": i, "step": i}).encode()])
            for i in range(60)
        ])

    answers = asyncio.run(many())
    assert [a[0] for a in answers] == [200] * 60
    assert sorted(p.step for p in history(app, run_id)) == list(range(60))


def test_client_gone_before_the_body_gets_no_answer_and_no_write(app):
    run_id = new_run(app)
    body = json.dumps({"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}).encode()
    answer = asyncio.run(call(app, "POST", f"{API}/runs/log-metric", [body], disconnect=True))
    assert answer is None or answer[0] >= 400  # through ASGI the route answers a client nobody hears
    assert history(app, run_id) == []


def test_other_methods_and_paths_still_go_through_the_router(app):
    async def both() -> tuple[Any, Any]:
        wrong_method = await call(app, "GET", f"{API}/runs/log-metric", [b""])
        not_hot = await call(app, "POST", f"{API}/runs/delete-tag", [b'{"run_id": "%s", "key": "k"}' % MISSING_RUN.encode()])
        return wrong_method, not_hot

    wrong_method, not_hot = asyncio.run(both())
    assert wrong_method[0] == 405 and json.loads(wrong_method[2])["error_code"] == "ENDPOINT_NOT_FOUND"
    assert not_hot[0] == 404 and json.loads(not_hot[2])["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert app.hot.find({"method": "POST", "path": f"{API}/runs/delete-tag"}) is None
    small_writes = ("/runs/create", "/runs/update", "/runs/log-metric", "/runs/log-parameter", "/runs/set-tag",
                    "/runs/log-batch")
    assert set(CALLS) == {("POST", prefix + p) for prefix in (API, "/ajax-api/2.0/mlflow") for p in small_writes} | {
        ("POST", "/api/3.0/mlflow/traces"), ("POST", "/ajax-api/3.0/mlflow/traces")}  # start_trace, MLflow 3's
    assert set(app.hot.calls) == set(CALLS)


def test_a_locked_store_answers_503_and_the_write_can_be_retried(app):
    db = app.state.service.store.db
    if not db.is_sqlite:
        pytest.skip("SQLite's file lock")
    run_id = new_run(app)
    # Shorten the writer's wait for another process's lock (60 s by default).
    db.writer.busy_timeout_ms = 50
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
    body = [json.dumps({"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}).encode()]
    holder.execute("BEGIN IMMEDIATE")
    try:
        status, _, out = asyncio.run(call(app, "POST", f"{API}/runs/log-metric", body))
    finally:
        holder.rollback()
        holder.close()
    assert status == 503 and json.loads(out)["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert history(app, run_id) == []
    status, _, _ = asyncio.run(call(app, "POST", f"{API}/runs/log-metric", body))
    assert status == 200 and len(history(app, run_id)) == 1


def test_lifespan_end_stops_the_writer(app):
    async def cycle() -> None:
        async with app.router.lifespan_context(app):
            run_id = new_run(app)
            status, _, _ = await call(app, "POST", f"{API}/runs/set-tag",
                                      [json.dumps({"run_id": run_id, "key": "t", "value": "v"}).encode()])
            assert status == 200

    asyncio.run(cycle())
    if app.hot.writer is not None:
        assert app.hot.writer._thread is None


def history(app: Any, run_id: str, key: str = "m") -> list[Any]:
    return list(app.state.service.runs.metric_history(run_id, key).items)


def test_one_stall_keeps_calls_on_the_loop_and_a_run_of_slow_ones_sends_them_to_the_writer(app):
    """The inline average counts a call as 20 ms at most: a cold first call or one stall (200 ms) does not
    pause answering on the loop; a run of slow calls (a slow disk's fsync) does, for a while."""
    import time

    hot = app.hot
    if hot.writer is None:
        pytest.skip("calls run on the loop on a SQLite file only")
    assert hot.may_answer_now(100)
    hot._timed_inline(time.monotonic() - 0.2)
    hot._timed_inline(time.monotonic() - 0.2)
    assert hot.may_answer_now(100)
    for _ in range(30):
        hot._timed_inline(time.monotonic() - 0.03)
    assert not hot.may_answer_now(100)


def test_calls_arriving_in_one_turn_of_the_loop_share_one_commit_and_a_failing_one_fails_alone(app):
    """On SQLite the first call of a turn of the event loop leads: the others of that turn join it,
    and all are run on the loop in one transaction, one commit; each in a savepoint, so an unknown
    run is answered 404 while the others are stored."""
    writer = app.state.service.store.db.writer
    if writer is None:
        pytest.skip("PostgreSQL has no writer: no calls run on the loop")
    run_id = new_run(app)
    runs = [run_id] * 3 + [MISSING_RUN] + [run_id] * 2

    async def together() -> tuple[int, list[Any]]:
        before = writer.commits
        answers = await asyncio.gather(*(
            call(app, "POST", f"{API}/runs/log-metric",
                 [json.dumps({"run_id": run, "key": "m", "value": i, "timestamp": 1, "step": i}).encode()])
            for i, run in enumerate(runs)))
        return writer.commits - before, answers

    commits, answers = asyncio.run(together())
    assert [a[0] for a in answers] == [200, 200, 200, 404, 200, 200]
    assert commits == 1
    history = app.state.service.runs.metric_history(run_id, "m")
    assert sorted(p.step for p in history) == [0, 1, 2, 4, 5]


def test_a_call_leads_at_once_only_when_its_request_arrived_alone(app):
    """HotPath.arrived_alone: a call leads without waiting for the next turn of the loop only when its own
    request is the one head the server's front (web/http_limits) began reading since the last call led;
    with none counted (an ASGI server not ours, as in these in-process tests) or several, it waits for the
    next turn, where the others join it."""
    hot = app.hot

    async def arrive() -> list[bool]:
        front = LimitedConnection(asyncio.Protocol(), 60.0)
        head = b"POST /x HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n"
        hot.arrived_alone()
        seen = [hot.arrived_alone()]  # nothing arrived since
        front.data_received(head)
        seen.append(hot.arrived_alone())  # one request
        front.data_received(head + head)
        seen.append(hot.arrived_alone())  # two in one read
        front.connection_lost(None)
        return seen

    assert asyncio.run(arrive()) == [False, True, False]

"""The outbox worker: in process with an injected clock, and several server processes on one store."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import textwrap
import time

import httpx

from modelyard.server.workers import webhooks as worker
from tests.conftest import LiveServer

from .conftest import SECRET, Receiver


def test_worker_delivers_and_retries_on_its_clock(service, receiver: Receiver):
    now = [int(time.time() * 1000) + 1000]
    receiver.statuses = [502]

    async def scenario() -> list[str]:
        running = worker.start(service, poll_interval=0.05, clock=lambda: now[0])
        try:
            assert service.webhooks.embedded_delivery is False
            hook = service.webhooks.create_webhook("h", receiver.url, ["registered_model.created"], secret=SECRET)
            await asyncio.to_thread(service.registry.create_registered_model, "m")
            for _ in range(100):  # the first attempt (502), woken by the change
                if receiver.received:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            assert len(receiver.received) == 1  # the clock has not moved: no retry yet
            now[0] += service.webhooks.backoff_ms
            statuses: list[str] = []
            for _ in range(250):  # the retry, then its outcome recorded
                statuses = [d.status for d in service.webhooks.deliveries(hook.webhook_id).items]
                if statuses == ["delivered"]:
                    break
                await asyncio.sleep(0.02)
            return statuses
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == ["delivered"]
    assert len(receiver.received) == 2 and all(d.signature_ok() for d in receiver.received)


async def _first_round_done(running: worker.WebhookWorker) -> None:
    for _ in range(500):
        if running.rounds:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the worker ran no round in 10 s")


def _statuses(service, webhook_id: str) -> list[str]:
    return [d.status for d in service.webhooks.deliveries(webhook_id).items]


async def _once_delivered(service, webhook_id: str) -> list[str]:
    """The delivery statuses once the first is recorded as delivered (at most ~5 s)."""
    for _ in range(250):
        if _statuses(service, webhook_id) == ["delivered"]:
            break
        await asyncio.sleep(0.02)
    return _statuses(service, webhook_id)


def test_an_enqueue_in_this_process_wakes_the_idle_worker(service, receiver: Receiver):
    """No poll would come for an hour: only the wake-up from the outbox can send the delivery."""
    hook = service.webhooks.create_webhook("h", receiver.url, ["registered_model.created"], secret=SECRET)

    async def scenario() -> list[str]:
        running = worker.start(service, poll_interval=3600, idle_interval=3600)
        try:
            await _first_round_done(running)  # the outbox was empty: the worker now sleeps for an hour
            await asyncio.to_thread(service.registry.create_registered_model, "m")
            await asyncio.to_thread(receiver.wait_for, 1, 30)
            return await _once_delivered(service, hook.webhook_id)
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == ["delivered"]
    assert [d.event for d in receiver.received] == ["registered_model.created"]
    assert receiver.received[0].json["data"]["name"] == "m" and receiver.received[0].signature_ok()


def test_the_idle_worker_sleeps_until_a_retry_falls_due(service, receiver: Receiver):
    """After a 502 the worker wakes for the retry at its time, though no poll would come for an hour."""
    receiver.statuses = [502]
    service.webhooks.backoff_ms = 300
    hook = service.webhooks.create_webhook("h", receiver.url, ["registered_model.created"])

    async def scenario() -> list[str]:
        running = worker.start(service, poll_interval=3600, idle_interval=3600)
        try:
            await asyncio.to_thread(service.registry.create_registered_model, "m")
            await asyncio.to_thread(receiver.wait_for, 2, 30)
            return await _once_delivered(service, hook.webhook_id)
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == ["delivered"]
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["x-mlflow-delivery-id"] == receiver.received[1].headers["x-mlflow-delivery-id"]


_ENQUEUE_ELSEWHERE = textwrap.dedent("""
    import sys
    from modelyard.service import TrackingService
    from modelyard.settings import Settings

    uri, artifacts = sys.argv[1:]
    svc = TrackingService(Settings(backend_store_uri=uri, artifacts_destination=artifacts,
                                   default_artifact_root=artifacts, serve_artifacts=False))
    svc.webhooks.embedded_delivery = False  # this process only enqueues: the test's worker must send it
    svc.registry.create_registered_model("from-elsewhere")
    svc.close()
""")


def test_the_idle_worker_picks_up_a_delivery_enqueued_by_another_process(db_uri, tmp_path, service,
                                                                          receiver: Receiver):
    hook = service.webhooks.create_webhook("h", receiver.url, ["registered_model.created"], secret=SECRET)

    async def scenario() -> list[str]:
        running = worker.start(service, poll_interval=3600, idle_interval=0.2)
        try:
            await _first_round_done(running)
            child = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", _ENQUEUE_ELSEWHERE, db_uri, str(tmp_path / "artifacts")],
                capture_output=True, text=True, timeout=120)
            assert child.returncode == 0, child.stderr
            await asyncio.to_thread(receiver.wait_for, 1, 30)
            return await _once_delivered(service, hook.webhook_id)
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == ["delivered"]
    assert [d.json["data"]["name"] for d in receiver.received] == ["from-elsewhere"]
    assert receiver.received[0].signature_ok()


def test_several_server_processes_deliver_each_event_once(db_uri, tmp_path, receiver: Receiver):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two processes on one store, started together
        starting = [pool.submit(LiveServer, db_uri, str(tmp_path / "artifacts")) for _ in range(2)]
    servers = [f.result() for f in starting if f.exception() is None]
    try:
        assert len(servers) == 2, [f.exception() for f in starting]
        api = [s.url + "/api/2.0/mlflow" for s in servers]
        body = {"name": "h", "url": receiver.url, "secret": SECRET,
                "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}
        assert httpx.post(f"{api[0]}/webhooks", json=body).status_code == 200
        httpx.post(f"{api[0]}/registered-models/create", json={"name": "m"}).raise_for_status()
        run_id = httpx.post(f"{api[1]}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]

        def register(i: int) -> int:
            with httpx.Client() as c:  # a new connection each time, so every process gets requests
                source = {"name": "m", "source": f"runs:/{run_id}/model", "run_id": run_id}
                return c.post(f"{api[i % 2]}/model-versions/create", json=source).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(register, range(12))) == [200] * 12
        got = receiver.wait_for(12, timeout=30)
        time.sleep(1.0)  # room for a duplicate to show up
        versions = sorted(int(d.json["data"]["version"]) for d in receiver.received)
        assert versions == list(range(1, 13)), versions
        assert len({d.headers["x-mlflow-delivery-id"] for d in got}) == 12
        assert all(d.signature_ok() for d in got)
    finally:
        for s in servers:
            s.stop()

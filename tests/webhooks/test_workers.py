"""The outbox worker: in process with an injected clock, and several server processes on one store."""

from __future__ import annotations

import asyncio
import concurrent.futures
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

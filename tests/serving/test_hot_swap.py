"""Hot swap when the alias moves: under load with no failed request, by polling and by webhook."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import httpx

import modelyard as my
from modelyard.serving.webhook import sign

from .conftest import ServeProcess, register


def _alias_event(name: str, version: int) -> bytes:
    return json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": int(time.time()),
                       "data": {"name": name, "alias": "champion", "version": str(version)}}).encode()


def test_hot_swap_under_load_by_polling(tmp_path):
    reg = register(str(tmp_path / "store"), f"swap-{uuid.uuid4().hex[:8]}")
    proc = ServeProcess(reg.uri(), reg.tracking_uri, "--poll-interval", "0.2")
    body = {"dataframe_split": {"columns": list(reg.frame.columns), "data": reg.frame.iloc[:2].values.tolist()}}
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            for _ in range(5000):  # bounded: the stop flag ends it far sooner
                if stop.is_set():
                    return
                try:
                    resp = http.post("/invocations", json=body)
                    results.append((resp.status_code, resp.headers.get("x-model-version", "")))
                except httpx.HTTPError as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        client = my.Client(reg.tracking_uri)
        client.set_registered_model_alias(reg.name, "champion", 2)
        client.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(v == "2" for _, v in results[-50:]):
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        version = httpx.get(proc.url + "/version").json()
        metrics = httpx.get(proc.url + "/metrics").text
        proc.stop()
    assert errors == []
    assert results and all(status == 200 for status, _ in results)
    versions = [v for _, v in results]
    assert "1" in versions and "2" in versions
    first_new = versions.index("2")
    assert versions[-1] == "2" and versions[first_new:].count("1") <= 8  # only requests already in flight
    assert version["model_version"] == "2" and version["swaps"] == 1 and version["last_error"] is None
    assert "modelyard_serving_model_swaps_total 1.0" in metrics


def test_webhook_switches_and_load_failure_keeps_old_version(tmp_path):
    reg = register(str(tmp_path / "store"), f"hook-{uuid.uuid4().hex[:8]}")
    secret = "s3cret"
    proc = ServeProcess(reg.uri(), reg.tracking_uri, "--poll-interval", "0", "--webhook-secret", secret)
    client = my.Client(reg.tracking_uri)
    try:
        def deliver(version: int) -> httpx.Response:
            payload = _alias_event(reg.name, version)
            headers = {"Content-Type": "application/json",
                       **sign(payload, secret, uuid.uuid4().hex, int(time.time()))}
            return httpx.post(proc.url + "/-/webhook?wait=true", content=payload, headers=headers, timeout=60)

        unsigned = httpx.post(proc.url + "/-/webhook", content=_alias_event(reg.name, 2))
        assert unsigned.status_code == 403
        client.set_registered_model_alias(reg.name, "champion", 2)
        assert httpx.get(proc.url + "/version").json()["model_version"] == "1"  # polling is off
        answer = deliver(2)
        assert answer.status_code == 200 and answer.json()["accepted"] is True
        assert answer.json()["model_version"] == "2"
        resp = httpx.post(proc.url + "/invocations", json={"instances": reg.frame.iloc[:1].values.tolist()})
        assert resp.headers["x-model-version"] == "2"
        assert resp.json()["predictions"] == reg.versions[2].predict(reg.frame.iloc[:1]).tolist()

        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "MLmodel").write_text("flavors: {}\n")
        run = client.create_run("0")
        client.log_artifacts(run.info.run_id, str(broken), "broken")
        mv = client.create_model_version(reg.name, f"runs:/{run.info.run_id}/broken", run.info.run_id)
        client.set_registered_model_alias(reg.name, "champion", mv.version)
        info = deliver(int(mv.version)).json()
        assert info["model_version"] == "2" and info["last_error"]
        resp = httpx.post(proc.url + "/invocations", json={"instances": reg.frame.iloc[:1].values.tolist()})
        assert resp.status_code == 200 and resp.headers["x-model-version"] == "2"
        assert "modelyard_serving_model_load_failures_total 1.0" in httpx.get(proc.url + "/metrics").text
        other = httpx.post(proc.url + "/-/webhook", content=json.dumps(
            {"entity": "model_version_alias", "action": "created", "data": {"name": "someone-else", "version": "1"}}),
            headers=sign(json.dumps({"entity": "model_version_alias", "action": "created", "data": {
                "name": "someone-else", "version": "1"}}).encode(), secret, "d", int(time.time())))
        assert other.json()["accepted"] is False
    finally:
        client.close()
        proc.stop()
    assert os.path.isdir(broken)

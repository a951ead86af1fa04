"""A rollout in ``modelyard serve`` under load: canary (sticky per caller), rollback, shadow and the
final swap, with no failed request. The rollout is the stored object every serve process follows."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import httpx

import modelyard as my

from .conftest import ServeProcess, register


def _until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_canary_rollback_shadow_and_swap_lose_no_request(tmp_path):
    reg = register(str(tmp_path / "store"), f"roll-{uuid.uuid4().hex[:8]}")
    c = my.Client(reg.tracking_uri)
    c.set_promotion_policy(reg.name, "champion", {"gates": [{"check": "signature"}]})
    proc = ServeProcess(reg.uri(), reg.tracking_uri, "--poll-interval", "0.2")
    body = {"dataframe_split": {"columns": list(reg.frame.columns), "data": reg.frame.iloc[:2].values.tolist()}}
    results: list[tuple[int, str, str, object]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            for i in range(20_000):  # bounded: the stop flag ends it far sooner
                if stop.is_set():
                    return
                key = f"caller-{(worker * 7 + i) % 40}"
                try:
                    resp = http.post("/invocations", json=body, headers={"x-caller-key": key})
                    preds = resp.json().get("predictions")
                    results.append((resp.status_code, resp.headers.get("x-model-version", ""), key, preds))
                except httpx.HTTPError as exc:
                    errors.append(exc)

    def recent(n: int = 40) -> list[str]:
        return [v for _, v, _, _ in results[-n:]]

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    try:
        for t in threads:
            t.start()
        _until(lambda: len(results) > 20, "traffic")
        # the gates pass; instead of moving the alias, a canary of half the callers starts
        done = c.promote(reg.name, 2, "champion", rollout={"mode": "canary", "weight": 0.5})
        assert done["passed"] and done["rollout"] and not done["moved"]
        assert c.get_model_version_by_alias(reg.name, "champion").version == "1"
        _until(lambda: "2" in recent() and "1" in recent(), "the canary to answer")
        mark = len(results)
        time.sleep(1.0)
        canary = results[mark:]
        by_key: dict[str, set[str]] = {}
        for _, v, key, _ in canary:
            by_key.setdefault(key, set()).add(v)
        assert all(len(vs) == 1 for vs in by_key.values()), "a caller saw both variants during the canary"
        assert {v for vs in by_key.values() for v in vs} == {"1", "2"}

        c.update_rollout(reg.name, "champion", "rollback")
        _until(lambda: set(recent()) == {"1"}, "the rollback")

        c.update_rollout(reg.name, "champion", "start", candidate_version=2, mode="shadow")
        _until(lambda: (httpx.get(proc.url + "/version").json()["rollout"]["answered"].get("2", 0) > 5),
               "the shadow to score copies")
        assert set(recent()) == {"1"}  # a shadow never answers

        c.update_rollout(reg.name, "champion", "complete")
        assert c.get_model_version_by_alias(reg.name, "champion").version == "2"
        _until(lambda: set(recent()) == {"2"}, "the final swap")
        # the serve process follows the stored rollout by polling: wait until it has read the end
        _until(lambda: (httpx.get(proc.url + "/version").json()["rollout"]["stored"] or {}).get("state")
               == "completed", "the serve process to see the completed rollout")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        info = httpx.get(proc.url + "/version").json()
        proc.stop()
        c.close()
    assert errors == []
    assert results and all(status == 200 for status, _, _, _ in results)
    assert all(isinstance(p, list) and len(p) == 2 and set(p) <= {0, 1} for _, _, _, p in results)
    assert info["model_version"] == "2" and info["rollout"]["stored"]["state"] == "completed"
    assert info["rollout"]["active"] is None
    audit = [e.action for e in my.Client(reg.tracking_uri).registry_audit(reg.name)]
    assert [a for a in audit if a.startswith("rollout_")] == [
        "rollout_start", "rollout_rollback", "rollout_start", "rollout_complete"]

"""Durability under ``kill -9``: every metric point the server acknowledged is there after a restart.

A bounded loop per backend (3 rounds on SQLite, 2 on PostgreSQL): start a real
``modelyard server`` on the store, stream metric points into one run from four
clients at once (two on MLflow's ``log-batch``, one on ``log-metric``, one on our
``runs/ingest`` route: on SQLite their writes share the store's writer and its
group commits) while recording every acknowledged point, SIGKILL the server
mid-stream, start it again on the same store and check that every point
acknowledged so far reads back.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import modelyard as my
from tests.conftest import LiveServer, fresh_database

ROUNDS = {"sqlite": 3, "postgresql": 2}
PER_REQUEST = 100  # points per request
ACKS_BEFORE_KILL = 5  # requests each client has acknowledged in a round before the kill
MAX_REQUESTS = 5000  # per client and round: the loop is bounded even if the kill never lands
T0 = 1_700_000_000_000


class Stream(threading.Thread):
    """One client sending metric points for ``key`` until the server stops answering; what was acknowledged."""

    def __init__(self, url: str, run_id: str, key: str, first_step: int, body: Callable[[str, str, list[int]], dict],
                 path: str, per_request: int = PER_REQUEST) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id, self.key, self.step = url, run_id, key, first_step
        self.body, self.path, self.per_request = body, path, per_request
        self.acked: dict[int, float] = {}  # step -> value, of acknowledged requests only
        self.requests_acked = 0
        self.ended_by: BaseException | None = None

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for _ in range(MAX_REQUESTS):
                steps = list(range(self.step, self.step + self.per_request))
                try:
                    r = http.post(self.path, json=self.body(self.run_id, self.key, steps))
                except httpx.TransportError as exc:  # the server died under us
                    self.ended_by = exc
                    return
                assert r.status_code == 200, r.text
                self.acked.update({s: s * 0.5 for s in steps})
                self.requests_acked += 1
                self.step += self.per_request


def _log_batch(run_id: str, key: str, steps: list[int]) -> dict:
    return {"run_id": run_id, "metrics": [{"key": key, "value": s * 0.5, "timestamp": T0 + s, "step": s} for s in steps]}


def _log_metric(run_id: str, key: str, steps: list[int]) -> dict:
    (step,) = steps
    return {"run_id": run_id, "key": key, "value": step * 0.5, "timestamp": T0 + step, "step": step}


def _ingest(run_id: str, key: str, steps: list[int]) -> dict:
    return {"run_id": run_id, "metrics": [{"key": key, "values": [s * 0.5 for s in steps],
                                           "timestamps": [T0 + s for s in steps], "steps": steps}]}


def _stored(url: str, run_id: str, key: str) -> dict[int, float]:
    client = my.Client(url)
    try:
        return {m.step: m.value for m in client.get_metric_history(run_id, key)}
    finally:
        client.close()


def _kill(server: LiveServer) -> None:
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server.log.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_acknowledged_point_survives_kill_9(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as uri:
        artifacts = str(tmp_path / "artifacts")
        acked: dict[str, dict[int, float]] = {"lb": {}, "lb2": {}, "lm": {}, "ig": {}}
        run_id = None
        for round_ in range(ROUNDS[kind] + 1):  # the last start only checks
            server = LiveServer(uri, artifacts)
            try:
                if run_id is None:
                    run_id = my.Client(server.url).create_run("0").info.run_id
                for key, points in acked.items():
                    stored = _stored(server.url, run_id, key)
                    lost = sorted(s for s in points if stored.get(s) != points[s])
                    assert not lost, f"{kind} round {round_}: {len(lost)} acknowledged {key} points lost, e.g. {lost[:5]}"
                if round_ == ROUNDS[kind]:
                    break
                streams = [
                    Stream(server.url, run_id, "lb", max(acked["lb"], default=-1) + 1, _log_batch,
                           "/api/2.0/mlflow/runs/log-batch"),
                    Stream(server.url, run_id, "lb2", max(acked["lb2"], default=-1) + 1, _log_batch,
                           "/api/2.0/mlflow/runs/log-batch"),
                    Stream(server.url, run_id, "lm", max(acked["lm"], default=-1) + 1, _log_metric,
                           "/api/2.0/mlflow/runs/log-metric", per_request=1),
                    Stream(server.url, run_id, "ig", max(acked["ig"], default=-1) + 1, _ingest,
                           "/api/2.0/modelyard/runs/ingest"),
                ]
                for s in streams:
                    s.start()
                deadline = time.monotonic() + 30
                while any(s.requests_acked < ACKS_BEFORE_KILL and s.is_alive() for s in streams):
                    assert time.monotonic() < deadline, "the clients were not acknowledged in time"
                    time.sleep(0.01)
                _kill(server)  # mid-stream: both clients are still sending
                for s in streams:
                    s.join(60)
                    assert not s.is_alive()
                    assert s.ended_by is not None  # it was cut off by the kill, not done before it
                    assert s.requests_acked >= ACKS_BEFORE_KILL
                    acked[s.key].update(s.acked)
            finally:
                server.stop()
        assert all(len(points) >= ROUNDS[kind] * ACKS_BEFORE_KILL * (1 if key == "lm" else PER_REQUEST)
                   for key, points in acked.items())

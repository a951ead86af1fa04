"""``modelyard serve --workers 2``: several processes on one port, each with the model loaded, and one
``/metrics`` page summing every worker's counts whichever worker answers the scrape."""

from __future__ import annotations

import os
import signal
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelyard.serving.config import ServingConfig
from tests.serving.conftest import ServeProcess
from tests.serving.test_protocols import expected, rows

FLUSH_S = ServingConfig().metrics_flush_s


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with httpx.Client(timeout=30) as client:  # a new connection each time: either worker may take it
        text = client.get(url + "/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _totals(url: str) -> tuple[float, float, float, float]:
    """Answered /invocations, latency observations, batched requests, discrete predictions counted."""
    page = _scrape(url)
    requests = page.get(("modelyard_serving_requests_total", (("endpoint", "invocations"), ("status", "200"))), 0)
    latency = page.get(("modelyard_serving_request_duration_seconds_count", (("endpoint", "invocations"),)), 0)
    batched = page.get(("modelyard_serving_batch_size_sum", ()), 0)
    predicted = sum(v for (name, _), v in page.items() if name == "modelyard_serving_predictions_total")
    return requests, latency, batched, predicted


def _send(url: str, body: dict, n: int) -> list[httpx.Response]:
    answers = []
    for _ in range(n):
        with httpx.Client(timeout=30) as client:
            answers.append(client.post(url + "/invocations", json=body))
    return answers


def _wait_for_total(url: str, want: float) -> None:
    """Until a scrape shows ``want`` requests (the other worker writes its counts every FLUSH_S)."""
    deadline = time.monotonic() + 30
    while _totals(url)[0] != want:
        assert time.monotonic() < deadline, f"never reached {want}: {_totals(url)}"
        time.sleep(0.2)


def _workers(supervisor: int) -> set[int]:
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as fh:
        pids = {int(p) for p in fh.read().split()}
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            out.add(pid)
    return out


def test_two_workers_answer_every_request_and_share_one_metrics_page(registered):
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--workers", "2",
                        env={"MODELYARD_TRACKING_URI": registered.tracking_uri})
    try:
        frame = rows(registered)
        body = {"dataframe_records": frame.to_dict(orient="records")}
        per_request = len(frame)
        answers = _send(proc.url, body, 40)
        assert [r.status_code for r in answers] == [200] * 40
        assert all(r.json() == {"predictions": expected(registered)} for r in answers)
        assert {r.headers["x-model-version"] for r in answers} == {"1"}
        assert proc.proc.poll() is None

        _wait_for_total(proc.url, 40)
        # every scrape, on a new connection each (either worker answers), reports all 40
        for _ in range(8):
            assert _totals(proc.url) == (40, 40, 40, 40 * per_request)

        # a worker killed outright: its written counts stay, its replacement starts from zero (not doubled)
        time.sleep(3 * FLUSH_S)  # both workers have written their counts since the last request
        workers = _workers(proc.proc.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while not (len(_workers(proc.proc.pid)) == 2 and victim not in _workers(proc.proc.pid)):
            assert time.monotonic() < deadline, "the supervisor did not replace the killed worker"
            time.sleep(0.2)
        answers = _send(proc.url, body, 20)  # both workers answer these (the new one once it is ready)
        assert [r.status_code for r in answers] == [200] * 20
        _wait_for_total(proc.url, 60)
        for _ in range(8):
            assert _totals(proc.url) == (60, 60, 60, 60 * per_request)

    finally:
        proc.stop()


def test_the_workers_metrics_directory_is_removed_at_exit(registered, tmp_path):
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--workers", "2",
                        env={"MODELYARD_TRACKING_URI": registered.tracking_uri, "TMPDIR": str(tmp_path)})
    try:
        made = [p for p in tmp_path.iterdir() if p.name.startswith("modelyard-serve-metrics-")]
        assert len(made) == 1 and made[0].is_dir()
    finally:
        proc.stop()
    assert not made[0].exists()


def test_shared_page_sums_workers_and_skips_files_it_cannot_read(tmp_path):
    from modelyard.serving.metrics import ServingMetrics

    a, b = ServingMetrics(), ServingMetrics()
    for m in (a, b):
        m.share(str(tmp_path))
        m.add_collector(lambda: {"x_total": 3, "x_queue_depth": 7})
        m.observe("invocations", 200, 0.003)
        m.batch_size.observe(2)
    b.swaps.inc()
    b.flush()
    (tmp_path / "worker-1-bad.json").write_bytes(b"{not json")
    (tmp_path / "worker-2-odd.json").write_bytes(
        b'{"modelyard_serving_requests": [[1]], "modelyard_serving_batch_size": 3, "snapshot8": {"x_total": "y"}}')
    (tmp_path / "notes.txt").write_text("not a worker's file")
    text = a.render().decode()
    assert 'modelyard_serving_requests_total{endpoint="invocations",status="200"} 2.0' in text
    assert 'modelyard_serving_request_duration_seconds_count{endpoint="invocations"} 2.0' in text
    assert "modelyard_serving_batch_size_sum 4.0" in text and "modelyard_serving_model_swaps_total 1.0" in text
    assert "x_total 6.0" in text and "x_queue_depth 7.0" in text  # counters summed, gauges this worker's


def test_a_worker_writes_its_counts_when_it_stops(tmp_path):
    """Between periodic writes too: the last requests of a worker that stops stay in the shared totals."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from starlette.testclient import TestClient

    import modelyard as my
    from modelyard.serving import create_app
    from modelyard.serving.metrics import ServingMetrics

    X, y = load_breast_cancer(return_X_y=True)
    path = str(tmp_path / "model")
    my.models.save_model(LogisticRegression(max_iter=5000).fit(X, y), path, input_example=X[:2])
    shared = tmp_path / "metrics"
    config = ServingConfig(model_uri=path, tracking_uri=str(tmp_path / "store"), request_log=False,
                           poll_interval=0, metrics_dir=str(shared), metrics_flush_s=3600)
    with TestClient(create_app(config)) as http:
        for _ in range(3):
            assert http.post("/invocations", json={"inputs": X[:1].tolist()}).status_code == 200
    reader = ServingMetrics()
    reader.share(str(shared))
    text = reader.render().decode()
    assert 'modelyard_serving_requests_total{endpoint="invocations",status="200"} 3.0' in text

"""Trace retention on a real store (SQLite and PostgreSQL): per-experiment tag over the setting,
deletion of rows and of the trace's files, the retention worker, and ``modelyard gc --traces``
giving the space back on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from click.testing import CliRunner

from modelyard.cli import main
from modelyard.entities.traces import Span
from modelyard.server.workers import retention
from modelyard.server.workers.retention import RetentionWorker
from modelyard.service.trace_retention import DAY_MS, RETENTION_TAG, purge_traces

from ..conftest import make_service

NOW = 1_800_000_000_000


def _trace(svc, exp: str, n: int, age_days: float, spans: int = 1, payload: str = "") -> str:
    start_ns = int(NOW - age_days * DAY_MS) * 1_000_000
    attrs = {"mlflow.spanInputs": payload} if payload else {}
    svc.traces.log_spans(exp, [Span(f"tr-{n:032x}", f"{i + 1:016x}", None if i == 0 else f"{1:016x}", "s", "LLM", "OK",
                                    None, start_ns + i, start_ns + 1000, dict(attrs), otel_trace_id=f"{n:032x}")
                               for i in range(spans)])
    return f"tr-{n:032x}"


def _left(svc, exp: str) -> set[str]:
    infos, _ = svc.traces.search([exp], max_results=1000)
    return {i.trace_id for i in infos}


def test_tag_over_setting_rows_and_files(db_uri, tmp_path):
    svc = make_service(db_uri, tmp_path, trace_max_payload_chars=50)
    try:
        short = svc.experiments.create("short")
        plain = svc.experiments.create("plain")
        odd = svc.experiments.create("odd")
        svc.experiments.set_tag(short, RETENTION_TAG, "2")
        svc.experiments.set_tag(odd, RETENTION_TAG, "soon")
        old = _trace(svc, short, 1, 3, spans=5, payload="x" * 500)  # a cut payload: a file of the trace
        young = _trace(svc, short, 2, 1)
        plain_old = _trace(svc, plain, 3, 30)
        odd_old = _trace(svc, odd, 4, 30)
        svc.assessments.create({"trace_id": old, "assessment_name": "ok", "feedback": {"value": True}})
        files = list(Path(tmp_path / "artifacts").rglob(f"{old}/artifacts/spans/*/inputs.json"))
        assert len(files) == 5  # one per span
        report = purge_traces(svc, clock=lambda: NOW)  # the setting: keep forever
        assert report.traces == 1 and report.by_experiment == {short: 1} and report.artifacts_deleted == 1
        assert report.bad_tags == {odd: "soon"}
        assert _left(svc, short) == {young} and not files[0].exists()
        assert _left(svc, plain) == {plain_old} and _left(svc, odd) == {odd_old}
        report = purge_traces(svc, default_days=10, clock=lambda: NOW, batch=1)  # a default for the untagged
        assert report.traces == 2 and _left(svc, plain) == set() and _left(svc, odd) == set()
        assert _left(svc, short) == {young}
    finally:
        svc.close()


def test_worker_applies_trace_retention(db_uri, tmp_path):
    svc = make_service(db_uri, tmp_path)
    try:
        assert retention.start(svc) is None  # nothing set anywhere
        exp = svc.experiments.create("kept-a-day")
        _trace(svc, exp, 1, 5)
        young = _trace(svc, exp, 2, 0.5)
        svc.experiments.set_tag(exp, RETENTION_TAG, "1")

        async def scenario() -> RetentionWorker:
            started = retention.start(svc)
            assert started is not None and started.traces and started.age_ms == 0
            await started.stop()
            worker = RetentionWorker(svc, 0, interval=0.05, first_delay=0, clock=lambda: NOW, traces=True)
            try:
                for _ in range(500):  # bounded
                    if worker.rounds >= 2:
                        break
                    await asyncio.sleep(0.02)
            finally:
                await worker.stop()
            return worker

        worker = asyncio.run(scenario())
        assert worker.traces_deleted == 1 and _left(svc, exp) == {young}
    finally:
        svc.close()


def test_gc_traces_frees_space_on_sqlite(tmp_path):
    db = tmp_path / "store.db"
    svc = make_service(f"sqlite:///{db}", tmp_path)
    exp = svc.experiments.create("big")
    svc.experiments.set_tag(exp, RETENTION_TAG, "1")
    for n in range(1, 41):
        _trace(svc, exp, n, 400, spans=50, payload="y" * 1000)  # long ago whatever today is
    svc.close()
    before = os.path.getsize(db)
    env = {"MODELYARD_TRACE_RETENTION_DAYS": "0"}
    out = CliRunner().invoke(main, ["gc", "--traces", "--vacuum", "--json", "--backend-store-uri", f"sqlite:///{db}",
                                    "--artifacts-destination", str(tmp_path / "artifacts")], env=env,
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["traces"] == 40 and report["vacuumed"] is True
    assert os.path.getsize(db) < before / 4
    bad = CliRunner().invoke(main, ["gc", "--vacuum", "--backend-store-uri", f"sqlite:///{db}"])
    assert bad.exit_code != 0 and "--vacuum goes with --traces" in bad.output

"""gc and request-log retention on SQLite and PostgreSQL: what goes, what stays, and that versions keep working."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from modelyard.entities import Dataset, DatasetInput, InputTag, LoggedModelInput, Metric, Param, RunTag
from modelyard.errors import InvalidState, ResourceDoesNotExist
from modelyard.server.workers.retention import RetentionWorker
from modelyard.service.gc import DAY_MS, collect, purge_request_log
from tests.conftest import make_service

RUN_TABLES = ("params", "tags", "metrics", "latest_metrics", "inputs", "run_model_inputs")


def _fill(service, experiment_id: str, name: str) -> str:
    """A run with params, metrics, tags, a dataset input, a logged-model input and a file."""
    run_id = service.runs.create(experiment_id, run_name=name).info.run_id
    service.runs.log_batch(run_id, [Metric("loss", 0.5, 1, 0), Metric("loss", 0.25, 2, 1)], [Param("lr", "0.1")],
                           [RunTag("team", "ml")])
    model = service.logged_models.create(experiment_id, name=f"{name}-model", source_run_id=run_id)
    service.runs.log_inputs(run_id, [DatasetInput(Dataset(f"{name}-data", "d1", "code", "{}"),
                                                  [InputTag("mlflow.data.context", "training")])],
                            [LoggedModelInput(model.model_id)])
    artifact_uri = service.runs.get(run_id).info.artifact_uri
    service.artifacts.repository(artifact_uri).put("notes/f.txt", io.BytesIO(b"hello"))
    return run_id


def _rows(service, run_id: str) -> dict[str, int]:
    with service.store.db.read() as conn:
        pk = conn.execute(text("SELECT id FROM runs WHERE run_uuid = :r"), {"r": run_id}).scalar()
        if pk is None:
            return {}
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t} WHERE run_id = :pk"), {"pk": pk}).scalar()  # noqa: S608
                for t in RUN_TABLES}


def _files(service, run_id: str) -> bool:
    return service.artifacts.repository(service.runs.get(run_id).info.artifact_uri).is_file("notes/f.txt")


def _local(uri: str) -> Path:
    return Path(uri[len("file://"):] if uri.startswith("file://") else uri)


def test_gc_purges_deleted_runs_and_experiments_with_their_rows_and_files(service):
    keep_exp = service.experiments.create("keep")
    gone_exp = service.experiments.create("gone")
    kept = _fill(service, keep_exp, "kept")
    deleted = _fill(service, keep_exp, "deleted")
    in_gone = _fill(service, gone_exp, "in-gone")
    deleted_files = _local(service.runs.get(deleted).info.artifact_uri)
    gone_files = _local(service.runs.get(in_gone).info.artifact_uri)
    service.runs.delete(deleted)
    service.experiments.delete(gone_exp)
    assert deleted_files.is_dir() and gone_files.is_dir()

    report = collect(service)

    assert sorted(report.runs) == sorted([deleted, in_gone]) and report.experiments == [gone_exp]
    assert len(report.logged_models) == 1 and report.failed == [] and report.kept == []
    assert report.rows["runs"] == 2 and report.rows["params"] == 2 and report.rows["metrics"] == 4
    assert report.rows["experiments"] == 1 and report.rows["datasets"] == 1 and report.rows["logged_models"] == 1
    assert _rows(service, deleted) == {} and _rows(service, in_gone) == {}
    assert not deleted_files.parent.exists() and not gone_files.parent.parent.exists()  # no empty shells left
    for run_id in (deleted, in_gone):
        with pytest.raises(ResourceDoesNotExist):
            service.runs.get(run_id)
    with pytest.raises(ResourceDoesNotExist):
        service.experiments.get(gone_exp)
    assert _rows(service, kept) == {t: (2 if t in ("metrics", "tags") else 1) for t in RUN_TABLES}  # tags: also the name
    assert _files(service, kept)
    assert service.runs.get(kept).data.params == {"lr": "0.1"}
    assert collect(service).runs == []  # nothing left: a second gc is a no-op


def test_dry_run_changes_nothing(service):
    exp = service.experiments.create("e")
    run_id = _fill(service, exp, "r")
    service.runs.delete(run_id)
    report = collect(service, dry_run=True)
    assert report.dry_run and report.runs == [run_id] and report.rows == {}
    assert _rows(service, run_id)["params"] == 1 and _files(service, run_id)


def test_named_ids_must_exist_be_deleted_and_old_enough(service):
    exp = service.experiments.create("e")
    active = service.runs.create(exp).info.run_id
    deleted = service.runs.create(exp).info.run_id
    service.runs.delete(deleted)
    with pytest.raises(ResourceDoesNotExist, match="--run-ids: no run with id ffff"):
        collect(service, run_ids=[deleted, "ffff"])
    with pytest.raises(InvalidState, match=f"--run-ids: run {active} is not in the deleted lifecycle stage"):
        collect(service, run_ids=[deleted, active])
    with pytest.raises(InvalidState, match=f"--experiment-ids: experiment {exp} is not in the deleted"):
        collect(service, experiment_ids=[exp])
    with pytest.raises(InvalidState, match="deleted less than --older-than ago"):
        collect(service, run_ids=[deleted], older_than_ms=DAY_MS)
    assert _rows(service, deleted) != {}  # nothing was purged by any of those
    later = int(time.time() * 1000) + 2 * DAY_MS
    assert collect(service, older_than_ms=DAY_MS).runs == []
    assert collect(service, run_ids=[deleted], older_than_ms=DAY_MS, clock=lambda: later).runs == [deleted]
    assert _rows(service, active) != {}


def test_naming_limits_the_collection(service):
    exp = service.experiments.create("e")
    other_exp = service.experiments.create("other")
    a, b = (service.runs.create(exp).info.run_id for _ in range(2))
    service.runs.delete(a)
    service.runs.delete(b)
    service.experiments.delete(other_exp)
    assert collect(service, run_ids=[a]).runs == [a]  # unlike mlflow gc, not b nor the other experiment
    assert collect(service, experiment_ids=[other_exp]).experiments == [other_exp]
    assert collect(service).runs == [b]


def test_registered_versions_keep_working(service):
    """A version registered from a run's files keeps its run; one registered from a logged model keeps that
    model's experiment, while the run that logged the model is purged."""
    exp = service.experiments.create("models")
    from_run = _fill(service, exp, "from-run")
    service.registry.create_registered_model("churn")
    service.registry.create_model_version("churn", f"runs:/{from_run}/notes", run_id=from_run)
    by_path = _fill(service, exp, "by-path")  # a version whose source is the plain local path of the run's files
    path_source = str(_local(service.runs.get(by_path).info.artifact_uri) / "notes")
    service.registry.create_registered_model("local")
    service.registry.create_model_version("local", path_source, run_id=by_path)
    service.runs.delete(by_path)
    lm_exp = service.experiments.create("logged")
    logger = service.runs.create(lm_exp).info.run_id
    model = service.logged_models.create(lm_exp, name="m", source_run_id=logger)
    service.artifacts.repository(model.artifact_location).put("MLmodel", io.BytesIO(b"flavors: {}"))
    service.registry.create_model_version("churn", f"models:/{model.model_id}", model_id=model.model_id)
    service.runs.delete(from_run)
    service.experiments.delete(lm_exp)

    with pytest.raises(InvalidState, match=f"run {from_run} holds churn/1.*Delete those model versions first"):
        collect(service, run_ids=[from_run])
    with pytest.raises(InvalidState, match=f"experiment {lm_exp}: its logged model {model.model_id} holds.*churn/2"):
        collect(service, experiment_ids=[lm_exp])
    report = collect(service)

    assert report.runs == [logger] and report.experiments == []
    assert {(k["kind"], k["id"]) for k in report.kept} == {("run", from_run), ("run", by_path), ("experiment", lm_exp)}
    assert _files(service, by_path)
    assert _files(service, from_run)
    for version in ("1", "2"):
        uri = service.registry.get_model_version_download_uri("churn", version)
        repository = service.artifacts.source_repository(uri, lambda rid: service.runs.get(rid).info.artifact_uri)
        assert repository.list(), uri  # the version's files are all there
    service.registry.delete_model_version("churn", "1")
    assert collect(service).runs == [from_run]  # once the version is gone, so is its run


def test_files_outside_the_roots_are_left_in_place(db_uri, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    wide = make_service(db_uri, tmp_path, artifact_roots=str(elsewhere))
    try:
        exp = wide.experiments.create("outside", artifact_location=str(elsewhere))
        run_id = _fill(wide, exp, "r")
        wide.runs.delete(run_id)
    finally:
        wide.close()
    narrow = make_service(db_uri, tmp_path)
    try:
        report = collect(narrow)
        assert report.runs == [run_id] and report.failed == []
        assert [s["uri"] for s in report.artifacts_skipped] == [f"{elsewhere}/{run_id}/artifacts"]
        assert (elsewhere / run_id / "artifacts" / "notes" / "f.txt").is_file()
    finally:
        narrow.close()


def test_a_run_whose_files_cannot_be_deleted_keeps_its_rows(service):
    exp = service.experiments.create("e")
    run_id = _fill(service, exp, "r")
    folder = _local(service.runs.get(run_id).info.artifact_uri) / "notes"
    service.runs.delete(run_id)
    with _undeletable(folder / "f.txt"):
        report = collect(service)
    assert report.runs == [] and report.failed[0]["id"] == run_id and "failed: " in report.failed[0]["reason"]
    assert _rows(service, run_id)["params"] == 1
    assert collect(service).runs == [run_id]  # the next gc finishes the job


@contextlib.contextmanager
def _undeletable(path: Path) -> Iterator[None]:
    """``path`` cannot be removed: its folder read-only, or (for root, who ignores that) the file immutable."""
    os.chmod(path.parent, 0o500)
    immutable = False
    try:
        if os.access(path.parent, os.W_OK):
            chattr = shutil.which("chattr")
            if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("running as root on a file system without immutable files")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path.parent, 0o700)


def test_pipeline_records_go_with_their_runs(service):
    exp = service.experiments.create("flows")
    parent = service.runs.create(exp, run_name="p").info.run_id
    steps = [{"pipeline_run_uuid": parent, "task_key": f"s[{i}]", "step": "s", "run_uuid": uuid.uuid4().hex,
              "position": i, "status": "FINISHED", "experiment_id": exp, "tags": {"mlflow.parentRunId": parent}}
             for i in range(2)]
    entries = [{"cache_key": f"key-{i}", "pipeline": "p", "step": "s", "run_uuid": step["run_uuid"],
                "output": {"kind": "json", "value": i, "hash": f"h{i}"}} for i, step in enumerate(steps)]
    service.pipelines.record({"pipeline_run": {"run_uuid": parent, "pipeline": "p", "status": "FINISHED"},
                              "steps": steps, "cache_entries": entries})
    service.runs.delete(steps[0]["run_uuid"])  # one step's run: its cache entry must not be handed out again
    report = collect(service)
    assert report.runs == [steps[0]["run_uuid"]] and report.rows["pipeline_cache"] == 1
    assert service.pipelines.cache_entry("key-0") is None and service.pipelines.cache_entry("key-1") is not None
    service.experiments.delete(exp)
    report = collect(service)
    assert report.experiments == [exp] and report.rows["pipeline_runs"] == 1 and report.rows["pipeline_steps"] == 2
    with service.store.db.read() as conn:
        for table in ("pipeline_runs", "pipeline_steps", "pipeline_cache"):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0, table  # noqa: S608


def _requests(service, now: int) -> None:
    rows = [{"request_id": f"r{i}", "model_name": "m", "model_version": "1", "timestamp_ms": now - age * DAY_MS,
             "latency_ms": 1.0, "inputs": {"x": i}, "outputs": [i]} for i, age in enumerate((40, 31, 29, 0))]
    service.inference.log_requests(rows)
    service.inference.log_feedback([{"request_id": "r0", "label": 1, "timestamp_ms": now - 40 * DAY_MS},
                                    {"request_id": "r3", "label": 0, "timestamp_ms": now}])


def test_request_log_retention(service):
    now = int(time.time() * 1000)
    _requests(service, now)
    assert purge_request_log(service, 30 * DAY_MS, clock=lambda: now) == (2, 1)
    assert sorted(r.request_id for r in service.inference.search()) == ["r2", "r3"]
    assert purge_request_log(service, 30 * DAY_MS, clock=lambda: now) == (0, 0)


def test_request_log_retention_in_batches(service):
    now = int(time.time() * 1000)
    _requests(service, now)
    assert service.store.db and purge_request_log(service, 1, clock=lambda: now + 2) == (4, 2)
    from modelyard.store.maintenance import Maintenance

    _requests(service, now)
    assert Maintenance(service.store.db).purge_request_log(now + 1, batch=1) == (4, 2)


def test_retention_worker_purges_on_its_interval(service):
    now = int(time.time() * 1000)
    _requests(service, now)

    async def scenario() -> RetentionWorker:
        worker = RetentionWorker(service, 30, interval=0.05, first_delay=0, clock=lambda: now)
        try:
            for _ in range(500):
                if worker.rounds >= 2:
                    break
                await asyncio.sleep(0.02)
        finally:
            await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert worker.rounds >= 2 and worker.deleted == 2
    assert sorted(r.request_id for r in service.inference.search()) == ["r2", "r3"]


def test_retention_worker_starts_only_when_set(db_uri, tmp_path):
    from modelyard.server.workers import retention

    off = make_service(db_uri, tmp_path)
    try:
        assert retention.start(off) is None
    finally:
        off.close()
    on = make_service(db_uri, tmp_path, request_log_retention_days=7.0)

    async def scenario() -> None:
        worker = retention.start(on)
        assert worker is not None and worker.age_ms == 7 * DAY_MS
        await worker.stop()

    try:
        asyncio.run(scenario())
    finally:
        on.close()

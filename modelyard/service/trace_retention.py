"""Trace retention: delete each experiment's traces older than its retention, files and rows.

An experiment keeps its traces for the days its tag ``modelyard.traces.retention_days`` says, or
else the setting ``trace_retention_days`` (0: forever). :func:`purge_traces` deletes older traces
a batch at a time (spans, attributes, tags, metadata, assessments and links with each trace, one
transaction a batch, so writers never wait long) and the trace's artifacts (the whole copies of
cut payloads, ``traces/<trace_id>/`` under the experiment's artifact location). The server's
retention worker (``server/workers/retention.py``) runs it every hour; ``modelyard gc --traces``
runs it once. On SQLite the freed pages are reused by new rows; ``modelyard gc --traces --vacuum``
also gives them back to the file system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist

RETENTION_TAG = "modelyard.traces.retention_days"
DAY_MS = 86_400_000
BATCH = 1000  # traces per transaction


@dataclass
class TracePurge:
    traces: int = 0
    by_experiment: dict[str, int] = field(default_factory=dict)
    artifacts_deleted: int = 0
    bad_tags: dict[str, str] = field(default_factory=dict)  # experiment id -> the tag value that is not a number

    def to_dict(self) -> dict[str, Any]:
        return {"traces": self.traces, "by_experiment": self.by_experiment,
                "artifacts_deleted": self.artifacts_deleted, "bad_tags": self.bad_tags}


def retention_days(tags: dict[int, str], default_days: float) -> tuple[dict[int, float], dict[str, str]]:
    """Each tagged experiment's days (bad values reported, the default used for them)."""
    days, bad = {}, {}
    for exp, raw in tags.items():
        try:
            value = float(raw)
            if value < 0 or value != value:
                raise ValueError
        except (TypeError, ValueError):
            bad[str(exp)] = raw
            continue
        days[exp] = value
    return days, bad


def has_retention(service: Any) -> bool:
    """Whether any trace retention applies: the setting, or an experiment's tag."""
    if service.settings.trace_retention_days > 0:
        return True
    with service.store.db.read() as conn:
        return bool(service.store.traces.experiment_tags(conn, RETENTION_TAG))


def purge_traces(service: Any, default_days: float | None = None, clock: Callable[[], int] | None = None,
                 batch: int = BATCH) -> TracePurge:
    """Delete every experiment's traces older than its retention; what was deleted."""
    default = service.settings.trace_retention_days if default_days is None else default_days
    if default < 0:
        raise InvalidParameterValue(f"trace_retention_days={default} must be 0 (keep everything) or more.")
    now = (clock or (lambda: int(time.time() * 1000)))()
    traces = service.store.traces
    with service.store.db.read() as conn:
        tagged, bad = retention_days(traces.experiment_tags(conn, RETENTION_TAG), default)
        experiments = traces.experiments_with_traces(conn)
    report = TracePurge(bad_tags=bad)
    for exp in experiments:
        days = tagged.get(exp, default)
        if days <= 0:
            continue
        location = _location(service, exp)
        for _ in range(1_000_000):  # bounded: each round deletes a batch or stops
            with service.store.db.write() as conn:
                old = traces.older_than(conn, exp, now - int(days * DAY_MS), batch)
                traces.delete(conn, [pk for pk, _ in old])
            report.traces += len(old)
            report.by_experiment[str(exp)] = report.by_experiment.get(str(exp), 0) + len(old)
            if location is not None:
                report.artifacts_deleted += sum(_delete_files(service, location, tid) for _, tid in old)
            if len(old) < batch:
                break
    return report


def _location(service: Any, experiment_id: int) -> str | None:
    try:
        return str(service.experiments.get(experiment_id).artifact_location)
    except ModelyardError:
        return None


def _delete_files(service: Any, location: str, trace_id: str) -> bool:
    """The trace's artifacts, if it has any (most traces have none)."""
    try:
        service.artifacts.repository(f"{location}/traces/{trace_id}").delete("")
    except ResourceDoesNotExist:
        return False
    except ModelyardError:
        return False  # outside the artifact roots, or unreachable: the rows are gone, the files stay
    return True


def vacuum(service: Any) -> bool:
    """Give a SQLite store's free pages back to the file system (``VACUUM``); False on PostgreSQL,
    whose autovacuum makes deleted rows' space reusable by itself."""
    db = service.store.db
    if not db.is_sqlite:
        return False
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        driver.commit()
        level = driver.isolation_level
        driver.isolation_level = None  # autocommit: VACUUM runs outside a transaction
        try:
            driver.execute("VACUUM")
        finally:
            driver.isolation_level = level
    finally:
        raw.close()
    return True

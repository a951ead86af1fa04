"""Pipelines: runs of steps, cache entries, schedules and their ticks, triggers — the rules.

Everything here speaks JSON-shaped dicts, the same shapes the HTTP extension
endpoints carry, so the local and HTTP transports return identical data.
This module records and reads pipeline runs and the step cache; schedules and
ticks live in ``pipeline_schedules.py``, triggers in ``pipeline_triggers.py``,
the pipelines a server may run in ``pipeline_registry.py``, and
:class:`PipelinesService` joins them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..entities import Metric, RunStatus
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from . import limits
from .experiments import now_ms
from .pipeline_registry import PipelineRegistry
from .pipeline_schedules import (
    MAX_CATCHUP_TICKS,
    SchedulesService,
    cron_iter,
    next_tick,
    ticks_between,
)
from .pipeline_triggers import TRIGGER_KINDS, TriggersService
from .pipeline_values import EXECUTORS, check_name, from_json, to_json
from .search import decode_page_token, encode_page_token

__all__ = [
    "EXECUTORS", "MAX_CACHE_LOOKUP", "MAX_CATCHUP_TICKS", "MAX_RECORD_STEPS", "STEP_STATUSES", "TRIGGER_KINDS", "PipelinesService",
    "cron_iter", "next_tick", "ticks_between",
]

STEP_STATUSES = ("PENDING", "RUNNING", "FINISHED", "CACHED", "FAILED", "SKIPPED")
RUN_STATUS_OF_STEP = {
    "PENDING": RunStatus.SCHEDULED, "RUNNING": RunStatus.RUNNING, "FINISHED": RunStatus.FINISHED,
    "CACHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED, "SKIPPED": RunStatus.KILLED,
}
MAX_RECORD_STEPS = 2000
MAX_CACHE_LOOKUP = 1000  # cache keys per bulk lookup


class PipelinesService(SchedulesService, TriggersService):
    """Pipeline runs, their steps and the step cache; schedules and triggers come from the two bases."""

    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts
        self._p = store.pipelines
        self._listeners: list[Callable[[], None]] = []
        self.registry = PipelineRegistry(service.settings.pipeline_modules)  # loads on first use

    def registered(self) -> list[dict[str, Any]]:
        """The pipelines this server may run, which schedules and triggers name: ``name``, ``reference``, ``source``."""
        return [p.to_dict() for p in self.registry.all()]

    # ---- wake-ups ------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (from the writing thread) after a schedule or trigger is created or resumed, or a
        trigger fired, through this service: the server's scheduler then acts at once instead of at its next poll."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn()

    # ---- recording pipeline runs -------------------------------------------------------

    def record(self, batch: dict[str, Any]) -> None:
        """Upsert a pipeline run, its steps (each a nested run) and cache entries in one transaction.

        Step run ids are chosen by the caller (32 hex); a step's run is created on
        its first record and its status and end time updated by later ones.
        """
        steps = list(batch.get("steps") or [])
        if len(steps) > MAX_RECORD_STEPS:
            raise InvalidParameterValue(f"At most {MAX_RECORD_STEPS} steps per record call, got {len(steps)}.")
        locations: dict[str, str] = {}
        checked: set[str] = set()  # tag and param keys this batch has checked (steps repeat the same keys)
        parents: set[str] = set()  # pipeline run ids this batch has checked (most batches: one)
        rows = [self._step_row(st, i, locations, checked, parents) for i, st in enumerate(steps)]
        run = batch.get("pipeline_run")
        run_row = None
        if run is not None:
            limits.check_run_id(run.get("run_uuid"), "pipeline_run.run_uuid")
            run_row = {
                "run_uuid": run["run_uuid"], "pipeline": check_name("pipeline", run.get("pipeline")),
                "reference": run.get("reference"), "params": to_json(run.get("params")),
                "executor": run.get("executor"), "status": run.get("status") or RunStatus.RUNNING,
                "start_time": run.get("start_time"), "end_time": run.get("end_time"),
                "trigger": run.get("trigger"), "output": to_json(run.get("output")),
                "tick_id": run.get("tick_id"), "event_id": run.get("event_id"),
            }
        entries = []
        now = now_ms()
        for e in batch.get("cache_entries") or []:
            entries.append({
                "cache_key": str(e["cache_key"]), "pipeline": e["pipeline"], "step": e["step"],
                "run_uuid": limits.check_run_id(e["run_uuid"], "cache_entries.run_uuid"),
                "output": to_json(e["output"]), "created_time": now, "hits": 0, "last_hit_time": None,
            })
        hits = [str(k) for k in batch.get("cache_hits") or []]
        with self.store.db.unit_of_work():  # the steps' runs and the pipeline's rows: all or nothing
            if rows:
                self.service.runs.record_many([r.pop("run") for r in rows])
            self._p.record(run_row, rows, entries, hits, now)

    def _step_row(
        self, st: dict[str, Any], i: int, locations: dict[str, str], checked: set[str], parents: set[str]
    ) -> dict[str, Any]:
        path = f"steps[{i}]"
        run_id = limits.check_run_id(st.get("run_uuid"), f"{path}.run_uuid")
        parent = st.get("pipeline_run_uuid")
        if type(parent) is not str or parent not in parents:
            parents.add(limits.check_run_id(parent, f"{path}.pipeline_run_uuid"))
        status = st.get("status")
        if status not in STEP_STATUSES:
            raise InvalidParameterValue(f"{path}.status must be one of {', '.join(STEP_STATUSES)}, got {status!r}.")
        exp_id = str(st.get("experiment_id", "0"))
        root = self.service.runs.artifact_root(exp_id, locations)
        tags = {str(k): str(v) for k, v in (st.get("tags") or {}).items()}
        params = {str(k): str(v) for k, v in (st.get("params") or {}).items()}
        metrics = [Metric(str(m[0]), float(m[1]), int(m[2]), int(m[3])) for m in st.get("metrics") or []]
        self.service.runs.check_recorded(path, tags, params, metrics, checked)
        task_key = str(st["task_key"])
        return {
            "pipeline_run_uuid": st["pipeline_run_uuid"], "task_key": task_key, "step": str(st["step"]),
            "run_uuid": run_id, "position": int(st.get("position", 0)), "status": status,
            "attempts": int(st.get("attempts", 0)), "cache_key": st.get("cache_key"),
            "cached_from": st.get("cached_from"), "start_time": st.get("start_time"), "end_time": st.get("end_time"),
            "inputs": to_json(st.get("inputs")), "output": to_json(st.get("output")), "error": st.get("error"),
            "run": {  # the step's tracking run, written by the runs service
                "run_uuid": run_id, "name": task_key, "experiment_id": exp_id, "user_id": st.get("user_id"),
                "status": RUN_STATUS_OF_STEP[status], "start_time": st.get("start_time"),
                "end_time": st.get("end_time"), "artifact_uri": f"{root}/{run_id}/artifacts",
                "tags": tags, "params": params, "metrics": metrics,
            },
        }

    # ---- reading pipeline runs -----------------------------------------------------------

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A pipeline run with its steps; ``run_id`` may also be one of its step runs."""
        limits.check_run_id(run_id)
        row = self._p.pipeline_run(run_id)
        if row is None:
            parent = self._p.pipeline_run_of_step(run_id)
            row = self._p.pipeline_run(parent) if parent else None
        if row is None:
            raise ResourceDoesNotExist(f"Run {run_id} is not a pipeline run nor a step of one.")
        out = _run_dict(row)
        out["steps"] = [_step_dict(s) for s in self._p.steps(row["run_uuid"])]
        return out

    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> dict[str, Any]:
        limits.check_max_results(max_results, 10_000)
        offset = decode_page_token(page_token)
        rows = self._p.list_runs(pipeline, status, max_results + 1, offset)
        out: dict[str, Any] = {"pipeline_runs": [_run_dict(r) for r in rows[:max_results]]}
        if len(rows) > max_results:
            out["next_page_token"] = encode_page_token(offset + max_results)
        return out

    def lineage(self, run_id: str) -> dict[str, Any]:
        """Which step output fed which step, and which model versions came out, for a pipeline run."""
        run = self.get_run(run_id)
        by_task = {s["task_key"]: s for s in run["steps"]}
        edges = []
        for s in run["steps"]:
            for inp in s.get("inputs") or []:
                src = by_task.get(inp.get("task_key") or "")
                if src is not None:
                    edges.append({"from_task": src["task_key"], "from_run_id": src["run_id"], "to_task": s["task_key"],
                                  "to_run_id": s["run_id"], "input": inp.get("name"), "content_hash": inp.get("hash")})
        run_of = {s["run_id"]: s["task_key"] for s in run["steps"]}
        versions = [
            {"name": name, "version": str(version), "run_id": rid, "task_key": run_of.get(rid)}
            for name, version, rid in self._p.model_versions_of_runs([run["run_id"], *run_of])
        ]
        return {"pipeline_run": {k: v for k, v in run.items() if k != "steps"}, "steps": run["steps"], "edges": edges,
                "model_versions": versions}

    # ---- cache ---------------------------------------------------------------------------

    def cache_keys(self, pipeline: str) -> list[str]:
        return sorted(self._p.cache_keys(pipeline))

    def cache_entry(self, cache_key: str) -> dict[str, Any] | None:
        row = self._p.cache_entry(cache_key)
        return None if row is None else _cache_dict(row)

    def cache_entries(self, cache_keys: Any) -> list[dict[str, Any]]:
        """The entries of those of ``cache_keys`` that are cached (in no particular order): one lookup for many keys."""
        if not isinstance(cache_keys, (list, tuple)) or not all(isinstance(k, str) for k in cache_keys):
            raise InvalidParameterValue(f"cache_keys must be a list of strings, got {cache_keys!r:.200}.")
        if len(cache_keys) > MAX_CACHE_LOOKUP:
            raise InvalidParameterValue(
                f"At most {MAX_CACHE_LOOKUP} cache_keys per lookup, got {len(cache_keys)}: split the keys into several calls."
            )
        return [_cache_dict(r) for r in self._p.cache_entries(list(dict.fromkeys(cache_keys)))]

    def cache_list(self, pipeline: str | None = None, step: str | None = None, max_results: int = 1000) -> list[dict[str, Any]]:
        limits.check_max_results(max_results, 10_000)
        return [_cache_dict(r) for r in self._p.cache_list(pipeline, step, max_results)]

    def cache_clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        return int(self._p.cache_clear(pipeline, step))


def _run_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": row["run_uuid"], "pipeline": row["pipeline"], "reference": row["reference"],
            "params": from_json(row["params"]) or {}, "executor": row["executor"], "status": row["status"],
            "start_time": row["start_time"], "end_time": row["end_time"], "trigger": row["trigger"],
            "output": from_json(row["output"])}


def _step_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_key": row["task_key"], "step": row["step"], "run_id": row["run_uuid"], "position": row["position"],
            "status": row["status"], "attempts": row["attempts"], "cache_key": row["cache_key"],
            "cached_from": row["cached_from"], "start_time": row["start_time"], "end_time": row["end_time"],
            "inputs": from_json(row["inputs"]) or [], "output": from_json(row["output"]), "error": row["error"]}


def _cache_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["output"] = from_json(row["output"])
    out["run_id"] = out.pop("run_uuid")
    return out

"""Pipelines: runs of steps, cache entries, schedules and their ticks, triggers — the rules.

Everything here speaks JSON-shaped dicts, the same shapes the HTTP extension
endpoints carry, so the local and HTTP transports return identical data.
Schedules use cron expressions (croniter): five fields, or six with a leading
seconds field (``*/10 * * * * *``); ticks are UTC epoch milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timezone
from typing import Any

from ..entities import LifecycleStage, Metric, Param, RunStatus, RunTag
from ..errors import InvalidParameterValue, PermissionDenied, ResourceAlreadyExists, ResourceDoesNotExist
from ..store import TrackingStore
from . import limits
from .experiments import now_ms
from .search import decode_page_token, encode_page_token

STEP_STATUSES = ("PENDING", "RUNNING", "FINISHED", "CACHED", "FAILED", "SKIPPED")
RUN_STATUS_OF_STEP = {
    "PENDING": RunStatus.SCHEDULED, "RUNNING": RunStatus.RUNNING, "FINISHED": RunStatus.FINISHED,
    "CACHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED, "SKIPPED": RunStatus.KILLED,
}
TRIGGER_KINDS = ("model_version", "http", "api")
EXECUTORS = ("inline", "process", "ray")
MAX_RECORD_STEPS = 2000
MAX_CATCHUP_TICKS = 1000
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")


def cron_iter(expression: str, start_ms: int) -> Any:
    """A croniter over UTC from ``start_ms``: 5 fields, or 6 with seconds first."""
    from croniter import croniter

    six = len(expression.split()) == 6
    if not croniter.is_valid(expression, second_at_beginning=six):
        raise InvalidParameterValue(
            f"Invalid cron expression {expression!r}: use 5 fields (minute hour day month weekday) "
            "or 6 with a leading seconds field."
        )
    start = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
    return croniter(expression, start, second_at_beginning=six)


def next_tick(expression: str, after_ms: int) -> int:
    """The first tick strictly after ``after_ms``."""
    return int(cron_iter(expression, after_ms).get_next(float) * 1000)


def ticks_between(expression: str, start_ms: int, end_ms: int, limit: int = MAX_CATCHUP_TICKS) -> list[int]:
    """Ticks ``t`` with ``start_ms <= t <= end_ms`` (at most ``limit``)."""
    it = cron_iter(expression, start_ms - 1)
    out: list[int] = []
    while len(out) < limit:
        t = int(it.get_next(float) * 1000)
        if t > end_ms:
            break
        if t >= start_ms:
            out.append(t)
    return out


def _check_name(what: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameterValue(f"Invalid {what} name {name!r}: use 1-250 letters, digits, '_', '-' or '.'.")
    return name


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PipelinesService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts
        self._p = store.pipelines
        self._p.metrics = store.metrics

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
        rows = []
        for i, st in enumerate(steps):
            rows.append(self._step_row(st, i, locations))
        run = batch.get("pipeline_run")
        run_row = None
        if run is not None:
            limits.check_run_id(run.get("run_uuid"), "pipeline_run.run_uuid")
            run_row = {
                "run_uuid": run["run_uuid"], "pipeline": _check_name("pipeline", run.get("pipeline")),
                "reference": run.get("reference"), "params": _json(run.get("params")),
                "executor": run.get("executor"), "status": run.get("status") or RunStatus.RUNNING,
                "start_time": run.get("start_time"), "end_time": run.get("end_time"),
                "trigger": run.get("trigger"), "output": _json(run.get("output")),
                "tick_id": run.get("tick_id"), "event_id": run.get("event_id"),
            }
        entries = []
        now = now_ms()
        for e in batch.get("cache_entries") or []:
            entries.append({
                "cache_key": str(e["cache_key"]), "pipeline": e["pipeline"], "step": e["step"],
                "run_uuid": limits.check_run_id(e["run_uuid"], "cache_entries.run_uuid"),
                "output": _json(e["output"]), "created_time": now, "hits": 0, "last_hit_time": None,
            })
        self._p.record(run_row, rows, entries, [str(k) for k in batch.get("cache_hits") or []], now)

    def _step_row(self, st: dict[str, Any], i: int, locations: dict[str, str]) -> dict[str, Any]:
        path = f"steps[{i}]"
        run_id = limits.check_run_id(st.get("run_uuid"), f"{path}.run_uuid")
        limits.check_run_id(st.get("pipeline_run_uuid"), f"{path}.pipeline_run_uuid")
        status = st.get("status")
        if status not in STEP_STATUSES:
            raise InvalidParameterValue(f"{path}.status must be one of {', '.join(STEP_STATUSES)}, got {status!r}.")
        exp_id = str(st.get("experiment_id", "0"))
        if exp_id not in locations:
            exp = self.service.experiments.get(exp_id)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(f"The experiment {exp_id} must be in the 'active' state.")
            locations[exp_id] = exp.artifact_location.rstrip("/")
        tags = {str(k): str(v) for k, v in (st.get("tags") or {}).items()}
        for j, (k, v) in enumerate(tags.items()):
            limits.check_tag(RunTag(k, v), f"{path}.tags[{j}]")
        params = {str(k): str(v) for k, v in (st.get("params") or {}).items()}
        for j, (k, v) in enumerate(params.items()):
            limits.check_param(Param(k, v), f"{path}.params[{j}]")
        metrics = [Metric(str(m[0]), float(m[1]), int(m[2]), int(m[3])) for m in st.get("metrics") or []]
        for m in metrics:
            limits.check_metric(m)
        return {
            "pipeline_run_uuid": st["pipeline_run_uuid"], "task_key": str(st["task_key"]), "step": str(st["step"]),
            "run_uuid": run_id, "position": int(st.get("position", 0)), "status": status,
            "attempts": int(st.get("attempts", 0)), "cache_key": st.get("cache_key"),
            "cached_from": st.get("cached_from"), "start_time": st.get("start_time"), "end_time": st.get("end_time"),
            "inputs": _json(st.get("inputs")), "output": _json(st.get("output")), "error": st.get("error"),
            "experiment_id": exp_id, "artifact_uri": f"{locations[exp_id]}/{run_id}/artifacts",
            "run_status": RUN_STATUS_OF_STEP[status], "user_id": st.get("user_id"),
            "tags": tags, "params": params, "metrics": metrics,
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

    def cache_list(self, pipeline: str | None = None, step: str | None = None, max_results: int = 1000) -> list[dict[str, Any]]:
        return [_cache_dict(r) for r in self._p.cache_list(pipeline, step, max_results)]

    def cache_clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        return self._p.cache_clear(pipeline, step)

    # ---- schedules -------------------------------------------------------------------------

    def create_schedule(
        self, name: str, reference: str, cron: str, params: dict[str, Any] | None = None, executor: str | None = None,
        date_param: str | None = "logical_date", catchup: bool = False, paused: bool = False, now: int | None = None,
    ) -> dict[str, Any]:
        _check_name("schedule", name)
        _check_reference(reference)
        _check_executor(executor)
        now = now_ms() if now is None else now
        first = next_tick(cron, now)
        if self._p.schedules(name):
            raise ResourceAlreadyExists(f"Schedule {name!r} already exists.")
        self._p.insert_schedule({
            "name": name, "reference": reference, "cron": cron, "params": _json(params or {}), "executor": executor,
            "date_param": date_param or None, "catchup": bool(catchup), "paused": bool(paused), "created_time": now,
            "next_tick_time": first,
        })
        return self.get_schedule(name)

    def get_schedule(self, name: str) -> dict[str, Any]:
        rows = self._p.schedules(name)
        if not rows:
            raise ResourceDoesNotExist(f"Schedule {name!r} does not exist.")
        return _schedule_dict(rows[0])

    def list_schedules(self) -> list[dict[str, Any]]:
        return [_schedule_dict(r) for r in self._p.schedules()]

    def set_schedule_paused(self, name: str, paused: bool, now: int | None = None) -> dict[str, Any]:
        sched = self.get_schedule(name)
        values: dict[str, Any] = {"paused": bool(paused)}
        if not paused and sched["paused"] and not sched["catchup"]:
            values["next_tick_time"] = next_tick(sched["cron"], now_ms() if now is None else now)  # no burst of missed ticks
        self._p.update_schedule(name, **values)
        return self.get_schedule(name)

    def delete_schedule(self, name: str) -> None:
        if not self._p.delete_schedule(name):
            raise ResourceDoesNotExist(f"Schedule {name!r} does not exist.")

    def schedule_ticks(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        return self._p.ticks(self.get_schedule(name)["id"], max_results)

    def due_ticks(self, now: int | None = None, owner: str | None = None, lease_ms: int | None = None) -> list[dict[str, Any]]:
        """Claim the ticks due at ``now``: each (schedule, tick) is won by exactly one caller.

        Without catch-up only the latest missed tick runs. Returns what this caller won:
        ``{"tick_id", "tick_time", "schedule": {...}}``. A scheduler passes its
        ``owner`` id and ``lease_ms``: it then holds each claim until ``now + lease_ms``
        unless it renews it (:meth:`renew_ticks`), and another scheduler may take an
        expired one over (:meth:`take_over_ticks`).
        """
        now = now_ms() if now is None else now
        until = None if owner is None or lease_ms is None else now + lease_ms
        won = []
        for row in self._p.schedules():
            seen = row["next_tick_time"]
            if row["paused"] or seen is None or seen > now:
                continue
            due = ticks_between(row["cron"], seen, now)
            if not row["catchup"]:
                due = due[-1:]
            for t in due:
                tick_id = self._p.claim_tick(row["id"], t, "schedule", now, owner, until)
                if tick_id is not None:
                    won.append({"tick_id": tick_id, "tick_time": t, "schedule": _schedule_dict(row)})
            self._p.advance_schedule(row["id"], seen, next_tick(row["cron"], now))
        return won

    def take_over_ticks(self, owner: str, now: int, lease_ms: int, limit: int = 20) -> list[dict[str, Any]]:
        """Take over scheduled ticks whose claimer's lease ran out before their run recorded itself.

        Each is won by one caller (compare-and-set), then held like a fresh claim.
        A tick that is no longer worth running — its schedule is paused, or has no
        catch-up and a later tick — is finished as ``skipped`` instead.
        """
        schedules = {r["id"]: r for r in self._p.schedules()}
        won = []
        for tick in self._p.expired_ticks(now, limit):
            if not self._p.take_over_tick(tick["id"], owner, now, now + lease_ms):
                continue
            row = schedules.get(tick["schedule_id"])
            if row is None or row["paused"] or (not row["catchup"]
                                                 and self._p.has_later_tick(row["id"], tick["tick_time"])):
                self._p.finish_tick(tick["id"], owner, "skipped")
                continue
            won.append({"tick_id": tick["id"], "tick_time": tick["tick_time"], "schedule": _schedule_dict(row),
                        "taken_over": True})
        return won

    def renew_ticks(self, owner: str, tick_ids: list[int], now: int, lease_ms: int) -> list[int]:
        """Extend ``owner``'s leases; the ids it still holds (not yet recorded by their run, nor taken over)."""
        return self._p.renew_ticks(owner, [int(t) for t in tick_ids], now + lease_ms)

    def finish_tick(self, tick_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim on a tick with ``status`` (e.g. ``failed``), if it still holds it."""
        return self._p.finish_tick(int(tick_id), owner, status)

    def claim_backfill(self, name: str, start: int, end: int) -> list[dict[str, Any]]:
        """Claim the schedule's ticks in ``[start, end]`` not run yet (kind ``backfill``)."""
        sched = self.get_schedule(name)
        now = now_ms()
        out = []
        for t in ticks_between(sched["cron"], start, end, limit=100_000):
            tick_id = self._p.claim_tick(sched["id"], t, "backfill", now)
            if tick_id is not None:
                out.append({"tick_id": tick_id, "tick_time": t, "schedule": sched})
        return out

    def set_tick(self, tick_id: int, status: str, pipeline_run_id: str | None = None) -> None:
        self._p.set_tick(int(tick_id), status, pipeline_run_id)

    # ---- triggers --------------------------------------------------------------------------

    def create_trigger(
        self, name: str, kind: str, reference: str, params: dict[str, Any] | None = None,
        executor: str | None = None, config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A trigger and its secret token (returned here only; the store keeps its SHA-256)."""
        _check_name("trigger", name)
        if kind not in TRIGGER_KINDS:
            raise InvalidParameterValue(f"Unknown trigger kind {kind!r}: use one of {', '.join(TRIGGER_KINDS)}.")
        _check_reference(reference)
        _check_executor(executor)
        config = dict(config or {})
        cursor = None
        if kind == "model_version":
            model = config.get("model")
            if not model:
                raise InvalidParameterValue("A model_version trigger needs config {'model': NAME}.")
            cursor = str(max([0, *(v for v, _ in self._p.model_versions_after(model, 0))]))
        if self._p.triggers(name):
            raise ResourceAlreadyExists(f"Trigger {name!r} already exists.")
        token = secrets.token_urlsafe(32)
        self._p.insert_trigger({
            "name": name, "kind": kind, "reference": reference, "params": _json(params or {}), "executor": executor,
            "config": _json(config), "token_hash": _hash_token(token), "cursor": cursor, "paused": False,
            "created_time": now_ms(),
        })
        out = self.get_trigger(name)
        out["token"] = token
        return out

    def get_trigger(self, name: str) -> dict[str, Any]:
        rows = self._p.triggers(name)
        if not rows:
            raise ResourceDoesNotExist(f"Trigger {name!r} does not exist.")
        return _trigger_dict(rows[0])

    def list_triggers(self) -> list[dict[str, Any]]:
        return [_trigger_dict(r) for r in self._p.triggers()]

    def set_trigger_paused(self, name: str, paused: bool) -> dict[str, Any]:
        self.get_trigger(name)
        self._p.update_trigger(name, paused=bool(paused))
        return self.get_trigger(name)

    def delete_trigger(self, name: str) -> None:
        if not self._p.delete_trigger(name):
            raise ResourceDoesNotExist(f"Trigger {name!r} does not exist.")

    def fire_trigger(
        self, name: str, payload: dict[str, Any] | None = None, dedupe_key: str | None = None, token: str | None = None,
        *, authenticate: bool = False,
    ) -> dict[str, Any]:
        """Queue a run of the trigger's pipeline; the scheduler worker launches it.

        ``authenticate`` (the HTTP endpoint) requires the trigger's token. The same
        ``dedupe_key`` fires once. Returns ``{"event_id": N | None, "duplicate": bool}``.
        """
        rows = self._p.triggers(name)
        if not rows:
            raise (PermissionDenied("Invalid trigger or token.") if authenticate else
                   ResourceDoesNotExist(f"Trigger {name!r} does not exist."))
        row = rows[0]
        if authenticate and not (token and hmac.compare_digest(_hash_token(token), row["token_hash"] or "")):
            raise PermissionDenied("Invalid trigger or token.")
        if row["paused"]:
            raise InvalidParameterValue(f"Trigger {name!r} is paused.")
        key = dedupe_key or secrets.token_hex(16)
        event_id = self._p.insert_event(row["id"], key[:250], _json(payload or {}) or "{}", now_ms())
        return {"event_id": event_id, "duplicate": event_id is None}

    def poll_model_versions(self) -> int:
        """Fire model_version triggers for versions registered since their cursor; the number fired."""
        fired = 0
        for row in self._p.triggers(kind="model_version"):
            if row["paused"]:
                continue
            model = (_unjson(row["config"]) or {}).get("model")
            seen = int(row["cursor"] or 0)
            newer = self._p.model_versions_after(model, seen)
            for version, run_id in newer:
                payload = {"model_name": model, "model_version": str(version), "model_run_id": run_id}
                if self._p.insert_event(row["id"], f"v{version}", _json(payload) or "{}", now_ms()) is not None:
                    fired += 1
            if newer:
                self._p.advance_cursor(row["id"], row["cursor"], str(newer[-1][0]))
        return fired

    def claim_events(self, limit: int = 20) -> list[dict[str, Any]]:
        """Pending trigger events this caller won, each with its trigger."""
        triggers = {t["id"]: t for t in self._p.triggers()}
        won = []
        for ev in self._p.pending_events(limit):
            if ev["trigger_id"] in triggers and self._p.claim_event(ev["id"], now_ms()):
                won.append({"event_id": ev["id"], "payload": _unjson(ev["payload"]) or {},
                            "trigger": _trigger_dict(triggers[ev["trigger_id"]])})
        return won

    def set_event(self, event_id: int, status: str) -> None:
        self._p.set_event(int(event_id), status)

    def trigger_events(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        out = []
        for ev in self._p.events(self.get_trigger(name)["id"], max_results):
            ev = dict(ev)
            ev["payload"] = _unjson(ev["payload"])
            out.append(ev)
        return out


def _check_reference(reference: Any) -> None:
    if not isinstance(reference, str) or ":" not in reference:
        raise InvalidParameterValue(f"Invalid pipeline reference {reference!r}: use 'path/to/file.py:name' or 'module:name'.")


def _check_executor(executor: Any) -> None:
    if executor is not None and executor not in EXECUTORS:
        raise InvalidParameterValue(f"Unknown executor {executor!r}: use one of {', '.join(EXECUTORS)}.")


def _run_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": row["run_uuid"], "pipeline": row["pipeline"], "reference": row["reference"],
            "params": _unjson(row["params"]) or {}, "executor": row["executor"], "status": row["status"],
            "start_time": row["start_time"], "end_time": row["end_time"], "trigger": row["trigger"],
            "output": _unjson(row["output"])}


def _step_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_key": row["task_key"], "step": row["step"], "run_id": row["run_uuid"], "position": row["position"],
            "status": row["status"], "attempts": row["attempts"], "cache_key": row["cache_key"],
            "cached_from": row["cached_from"], "start_time": row["start_time"], "end_time": row["end_time"],
            "inputs": _unjson(row["inputs"]) or [], "output": _unjson(row["output"]), "error": row["error"]}


def _cache_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["output"] = _unjson(row["output"])
    out["run_id"] = out.pop("run_uuid")
    return out


def _schedule_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["params"] = _unjson(row["params"]) or {}
    out["catchup"] = bool(row["catchup"])
    out["paused"] = bool(row["paused"])
    return out


def _trigger_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "token_hash"}
    out["params"] = _unjson(row["params"]) or {}
    out["config"] = _unjson(row["config"]) or {}
    out["paused"] = bool(row["paused"])
    return out

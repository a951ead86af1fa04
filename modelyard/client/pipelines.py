"""Pipelines methods of ``Client``: recording pipeline runs, lineage, cache, schedules, triggers.

>>> c = my.Client()
>>> lineage = c.get_pipeline_lineage(run_id)        # a pipeline run or any of its steps
>>> [(e["from_task"], e["to_task"]) for e in lineage.edges]
>>> c.create_pipeline_schedule("nightly", "train", "0 3 * * *", params={"epochs": 5})  # a registered pipeline
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import msgspec

from ..api import pipelines as ops
from ..api import schemas_pipelines as s
from ..api.operations import Operation
from ..api.pipelines import FIRE_TRIGGER_PATH
from ..entities import PagedList
from ..errors import InvalidParameterValue
from .http import HttpTransport
from .transport import LocalTransport, Transport

CACHE_LOOKUP_CHUNK = 1000  # keys per bulk cache lookup: the server's limit (service.pipelines.MAX_CACHE_LOOKUP)


@dataclass
class PipelineStep:
    """One executed step of a pipeline run: a nested run, with its inputs and output."""

    task_key: str
    step: str
    run_id: str
    position: int
    status: str  # PENDING RUNNING FINISHED CACHED FAILED SKIPPED
    attempts: int = 0
    cache_key: str | None = None
    cached_from: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineStep:
        kw: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__ if k in d}
        return cls(**kw)


@dataclass
class PipelineRunRecord:
    """A pipeline run (a tracking run) and the graph it executed."""

    run_id: str
    pipeline: str
    status: str
    reference: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    executor: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    trigger: str | None = None
    output: Any = None
    steps: list[PipelineStep] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineRunRecord:
        kw: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__ if k in d and k != "steps"}
        return cls(**kw, steps=[PipelineStep.from_dict(st) for st in d.get("steps") or []])

    def step(self, task_key: str) -> PipelineStep:
        for st in self.steps:
            if st.task_key == task_key:
                return st
        raise KeyError(task_key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PipelineLineage:
    """Which step output fed which step, and which model versions came out.

    ``edges``: ``{"from_task", "from_run_id", "to_task", "to_run_id", "input", "content_hash"}``;
    ``model_versions``: ``{"name", "version", "run_id", "task_key"}``.
    """

    pipeline_run: PipelineRunRecord
    edges: list[dict[str, Any]]
    model_versions: list[dict[str, Any]]

    @property
    def steps(self) -> list[PipelineStep]:
        return self.pipeline_run.steps

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineLineage:
        run = PipelineRunRecord.from_dict({**d["pipeline_run"], "steps": d.get("steps") or []})
        return cls(run, list(d.get("edges") or []), list(d.get("model_versions") or []))

    def to_dict(self) -> dict[str, Any]:
        run = self.pipeline_run.to_dict()
        steps = run.pop("steps")
        return {"pipeline_run": run, "steps": steps, "edges": self.edges, "model_versions": self.model_versions}


class PipelinesMethods:
    _t: Transport
    _call: Callable[[Operation, msgspec.Struct], dict[str, Any]]

    # ---- runs and lineage -----------------------------------------------------

    def record_pipeline(self, batch: dict[str, Any]) -> None:
        """Write a batch of pipeline progress (the engine's bulk call; see PipelinesService.record)."""
        try:
            req = msgspec.convert(batch, s.Record)
        except msgspec.ValidationError as exc:
            raise InvalidParameterValue(f"Invalid pipeline record: {exc}") from None
        self._call(ops.RECORD_PIPELINE, req)

    def get_pipeline_run(self, run_id: str) -> PipelineRunRecord:
        """The pipeline run ``run_id`` (or the one a step run ``run_id`` belongs to), with its steps."""
        out = self._call(ops.GET_PIPELINE_RUN, s.PipelineRunId(run_id=run_id))
        return PipelineRunRecord.from_dict(out["pipeline_run"])

    def search_pipeline_runs(
        self, pipeline: str | None = None, status: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> PagedList:
        """One page of pipeline runs, newest first (:class:`PipelineRunRecord` without steps; ``.token``: the next page)."""
        req = s.SearchPipelineRuns(pipeline=pipeline, status=status, max_results=max_results, page_token=page_token)
        out = self._call(ops.SEARCH_PIPELINE_RUNS, req)
        return PagedList([PipelineRunRecord.from_dict(r) for r in out.get("pipeline_runs", [])], out.get("next_page_token"))

    def get_pipeline_lineage(self, run_id: str) -> PipelineLineage:
        """The lineage of the pipeline run that ``run_id`` is (or is a step of)."""
        return PipelineLineage.from_dict(self._call(ops.GET_PIPELINE_LINEAGE, s.PipelineRunId(run_id=run_id)))

    # ---- cache -----------------------------------------------------------------

    def get_pipeline_cache_keys(self, pipeline: str) -> set[str]:
        return set(self._call(ops.GET_PIPELINE_CACHE_KEYS, s.CacheQuery(pipeline=pipeline)).get("keys", ()))

    def get_pipeline_cache_entry(self, cache_key: str) -> dict[str, Any] | None:
        return self._call(ops.GET_PIPELINE_CACHE_ENTRY, s.CacheQuery(cache_key=cache_key)).get("entry")

    def get_pipeline_cache_entries(self, cache_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The entries of those of ``cache_keys`` that are cached, by key: one lookup per 1000 keys."""
        keys = list(dict.fromkeys(cache_keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), CACHE_LOOKUP_CHUNK):
            req = s.CacheKeys(cache_keys=keys[start : start + CACHE_LOOKUP_CHUNK])
            for entry in self._call(ops.GET_PIPELINE_CACHE_ENTRIES, req).get("entries", ()):
                found[entry["cache_key"]] = entry
        return found

    def list_pipeline_cache(self, pipeline: str | None = None, step: str | None = None, max_results: int = 1000) -> list[dict[str, Any]]:
        req = s.CacheQuery(pipeline=pipeline, step=step, max_results=max_results)
        return list(self._call(ops.LIST_PIPELINE_CACHE, req).get("entries", ()))

    def clear_pipeline_cache(self, pipeline: str | None = None, step: str | None = None) -> int:
        """Delete cache entries (all, of a pipeline, or of one of its steps); the number deleted."""
        return int(self._call(ops.CLEAR_PIPELINE_CACHE, s.CacheQuery(pipeline=pipeline, step=step)).get("deleted", 0))

    # ---- registered pipelines ---------------------------------------------------

    def list_registered_pipelines(self) -> list[dict[str, Any]]:
        """The pipelines the server may run (``name``, ``reference`` as ``module:attr``, ``source``).

        Registered by the server's operator: ``MODELYARD_PIPELINE_MODULES`` or the
        entry-point group ``modelyard.pipelines``. Schedules and triggers name one.
        """
        return list(self._call(ops.LIST_REGISTERED_PIPELINES, s.ByName()).get("pipelines", ()))

    # ---- schedules -------------------------------------------------------------

    def create_pipeline_schedule(
        self, name: str, reference: str, cron: str, params: dict[str, Any] | None = None, executor: str | None = None,
        date_param: str | None = "logical_date", catchup: bool = False, paused: bool = False,
    ) -> dict[str, Any]:
        """Run the registered pipeline ``reference`` (its name) on the server at each cron tick (UTC; 6 fields =
        seconds first). A file or unregistered name is refused: see :meth:`list_registered_pipelines`."""
        req = s.CreateSchedule(name=name, reference=reference, cron=cron, params=params or {}, executor=executor,
                               date_param=date_param, catchup=catchup, paused=paused)
        return cast("dict[str, Any]", self._call(ops.CREATE_PIPELINE_SCHEDULE, req)["schedule"])

    def get_pipeline_schedule(self, name: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self._call(ops.GET_PIPELINE_SCHEDULE, s.ByName(name=name))["schedule"])

    def list_pipeline_schedules(self) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_PIPELINE_SCHEDULES, s.ByName()).get("schedules", ()))

    def pause_pipeline_schedule(self, name: str) -> dict[str, Any]:
        return self._set_schedule_paused(name, True)

    def resume_pipeline_schedule(self, name: str) -> dict[str, Any]:
        return self._set_schedule_paused(name, False)

    def _set_schedule_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return cast("dict[str, Any]", self._call(ops.UPDATE_PIPELINE_SCHEDULE, s.SetPaused(name=name, paused=paused))["schedule"])

    def delete_pipeline_schedule(self, name: str) -> None:
        self._call(ops.DELETE_PIPELINE_SCHEDULE, s.ByName(name=name))

    def get_pipeline_schedule_ticks(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        req = s.ByName(name=name, max_results=max_results)
        return list(self._call(ops.GET_PIPELINE_SCHEDULE_TICKS, req).get("ticks", ()))

    def claim_pipeline_backfill(self, name: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Claim the schedule's ticks in ``[start_ms, end_ms]`` that never ran (so the server won't run them)."""
        req = s.Backfill(name=name, start=start_ms, end=end_ms)
        return list(self._call(ops.CLAIM_PIPELINE_BACKFILL, req).get("ticks", ()))

    def set_pipeline_tick(self, tick_id: int, status: str, pipeline_run_id: str | None = None) -> None:
        self._call(ops.SET_PIPELINE_TICK, s.TickUpdate(tick_id=tick_id, status=status, pipeline_run_id=pipeline_run_id))

    # ---- triggers --------------------------------------------------------------

    def create_pipeline_trigger(
        self, name: str, kind: str, reference: str, params: dict[str, Any] | None = None, executor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A trigger (``model_version`` with config ``{"model": NAME}``, ``http`` or ``api``) that runs the registered
        pipeline ``reference`` (its name); its ``token`` is shown once."""
        req = s.CreateTrigger(name=name, kind=kind, reference=reference, params=params or {}, executor=executor,
                              config=config or {})
        return cast("dict[str, Any]", self._call(ops.CREATE_PIPELINE_TRIGGER, req)["trigger"])

    def get_pipeline_trigger(self, name: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self._call(ops.GET_PIPELINE_TRIGGER, s.ByName(name=name))["trigger"])

    def list_pipeline_triggers(self) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_PIPELINE_TRIGGERS, s.ByName()).get("triggers", ()))

    def pause_pipeline_trigger(self, name: str) -> dict[str, Any]:
        return self._set_trigger_paused(name, True)

    def resume_pipeline_trigger(self, name: str) -> dict[str, Any]:
        return self._set_trigger_paused(name, False)

    def _set_trigger_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return cast("dict[str, Any]", self._call(ops.UPDATE_PIPELINE_TRIGGER, s.SetPaused(name=name, paused=paused))["trigger"])

    def delete_pipeline_trigger(self, name: str) -> None:
        self._call(ops.DELETE_PIPELINE_TRIGGER, s.ByName(name=name))

    def fire_pipeline_trigger(
        self, name: str, payload: dict[str, Any] | None = None, dedupe_key: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Queue a run of the trigger's pipeline (over HTTP the trigger's ``token`` is required).

        Monitoring alerts call this; the same ``dedupe_key`` fires once.
        """
        t = self._t
        if isinstance(t, LocalTransport):  # the store's owner, in process: no token needed
            return t.service.pipelines.fire_trigger(name, payload or {}, dedupe_key, token)
        assert isinstance(t, HttpTransport), t
        # Not an operation of the table: the server authenticates it by the trigger's token (a route of its own).
        body = msgspec.to_builtins(s.FireTrigger(name=name, payload=payload or {}, dedupe_key=dedupe_key, token=token))
        return t.send("POST", FIRE_TRIGGER_PATH, body, idempotent=dedupe_key is not None)

    def get_pipeline_trigger_events(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        req = s.ByName(name=name, max_results=max_results)
        return list(self._call(ops.GET_PIPELINE_TRIGGER_EVENTS, req).get("events", ()))


"""Declared request schemas of the pipelines API (``/api/2.0/modelyard/pipelines/*``).

``Record`` is ``POST /pipelines/record`` (what the pipeline engine sends): each text field is
bounded by its column and each number by its column's integer type, so a bad record is a 400
naming the field rather than a store error. Fields left out reach the service as absent
(``omit_defaults``), so its defaults apply.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .schemas import Int64, Request

Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
RunUuid = Annotated[str, msgspec.Meta(max_length=32)]
Name = Annotated[str, msgspec.Meta(max_length=250)]
Short = Annotated[str, msgspec.Meta(max_length=20)]
CacheKey = Annotated[str, msgspec.Meta(max_length=64)]


class PipelineRunRecord(Request):
    run_uuid: RunUuid | None = None
    pipeline: Name | None = None
    reference: str | None = None
    params: Any = None
    executor: Short | None = None
    status: Short | None = None
    start_time: Int64 | None = None
    end_time: Int64 | None = None
    trigger: Name | None = None
    output: Any = None
    tick_id: Int64 | None = None
    event_id: Int64 | None = None


class StepRecord(Request):
    pipeline_run_uuid: RunUuid
    task_key: Name
    step: Name
    run_uuid: RunUuid
    status: Short
    position: Int32 = 0
    attempts: Int32 = 0
    cache_key: CacheKey | None = None
    cached_from: RunUuid | None = None
    start_time: Int64 | None = None
    end_time: Int64 | None = None
    inputs: Any = None
    output: Any = None
    error: str | None = None
    experiment_id: str | None = None
    user_id: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    tags: dict[str, str] = {}
    params: dict[str, str] = {}
    metrics: list[tuple[str, float, Int64, Int64]] = []


class CacheEntryRecord(Request):
    cache_key: CacheKey
    pipeline: Name
    step: Name
    run_uuid: RunUuid
    output: Any = None


class Record(Request):
    pipeline_run: PipelineRunRecord | None = None
    steps: list[StepRecord] = []
    cache_entries: list[CacheEntryRecord] = []
    cache_hits: list[CacheKey] = []


class PipelineRunId(Request):
    run_id: str = ""


class SearchPipelineRuns(Request):
    pipeline: str | None = None
    status: str | None = None
    max_results: Int64 = 100
    page_token: str | None = None


class CacheQuery(Request):
    pipeline: str | None = None
    step: str | None = None
    max_results: Int64 = 1000
    cache_key: str = ""


class CacheKeys(Request):
    cache_keys: list[str] = []


class ByName(Request):
    """A schedule or trigger by name (and how many of its ticks or events to list)."""

    name: str = ""
    max_results: Int64 = 100


class CreateSchedule(Request):
    name: str
    reference: str
    cron: str
    params: dict[str, Any] = {}
    executor: str | None = None
    date_param: str | None = "logical_date"
    catchup: bool = False
    paused: bool = False


class SetPaused(Request):
    name: str
    paused: bool


class Backfill(Request):
    name: str
    start: Int64
    end: Int64


class TickUpdate(Request):
    tick_id: Int64
    status: Short
    pipeline_run_id: RunUuid | None = None


class CreateTrigger(Request):
    name: str
    kind: str
    reference: str
    params: dict[str, Any] = {}
    executor: str | None = None
    config: dict[str, Any] = {}


class FireTrigger(Request):
    """``POST /pipelines/triggers/fire``: the trigger's token in ``Authorization: Bearer`` or ``token``."""

    name: str
    payload: dict[str, Any] = {}
    dedupe_key: str | None = None
    token: str | None = None

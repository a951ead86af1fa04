"""Declared request schemas of MLflow 3's tracing API (traces, tags, links, assessments).

Field names are the protos' snake_case, as the official client writes them.
``trace_id``, ``request_id`` and ``assessment_id`` also arrive in the path
(``/traces/{trace_id}/assessments/{assessment_id}``); the path wins. A trace
info, an assessment and its feedback or expectation value stay JSON objects:
their timestamps, durations and ``google.protobuf.Value`` payloads are read
by the service, which names any bad field.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec

from ..entities.traces import Span
from .schemas import Int64


class TraceBody(msgspec.Struct):
    trace_info: Optional[dict[str, Any]] = None


class StartTrace(msgspec.Struct):
    trace: Optional[TraceBody] = None


class TraceId(msgspec.Struct):
    trace_id: Optional[str] = None


class GetTrace(TraceId):
    allow_partial: Optional[str] = None
    # Our extension: one page of spans at a time (all spans when absent, as MLflow answers).
    max_spans: Optional[Int64] = None
    page_token: Optional[str] = None


class BatchGetTraces(msgspec.Struct):
    trace_ids: list[str] = []
    experiment_ids: list[str] = []


class ExperimentLocation(msgspec.Struct):
    experiment_id: Optional[str] = None


class TraceLocation(msgspec.Struct):
    type: Optional[str] = None
    mlflow_experiment: Optional[ExperimentLocation] = None


class SearchTraces(msgspec.Struct):
    locations: list[TraceLocation] = []
    experiment_ids: list[str] = []  # MLflow 2's spelling
    filter: Optional[str] = None
    max_results: Optional[Int64] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class DeleteTraces(msgspec.Struct):
    experiment_id: Optional[str] = None
    max_timestamp_millis: Optional[Int64] = None
    max_traces: Optional[Int64] = None
    request_ids: list[str] = []


class SetTraceTag(msgspec.Struct):
    request_id: Optional[str] = None
    trace_id: Optional[str] = None
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteTraceTag(msgspec.Struct):
    request_id: Optional[str] = None
    trace_id: Optional[str] = None
    key: Optional[str] = None


class LinkTracesToRun(msgspec.Struct):
    trace_ids: list[str] = []
    run_id: Optional[str] = None


class PromptVersionRef(msgspec.Struct):
    name: Optional[str] = None
    version: Optional[str] = None


class LinkPromptsToTrace(msgspec.Struct):
    trace_id: Optional[str] = None
    prompt_versions: list[PromptVersionRef] = []


class CreateAssessment(msgspec.Struct):
    assessment: Optional[dict[str, Any]] = None
    trace_id: Optional[str] = None  # from the path


class AssessmentId(msgspec.Struct):
    trace_id: Optional[str] = None
    assessment_id: Optional[str] = None


class FieldMask(msgspec.Struct):
    paths: list[str] = []


class UpdateAssessment(AssessmentId):
    assessment: Optional[dict[str, Any]] = None
    update_mask: Optional[FieldMask | str] = None


class ExportSpans(msgspec.Struct):
    """An OTLP export, decoded by the route from protobuf or JSON (not a JSON body of its own)."""

    experiment_id: Optional[str] = None
    spans: list[Span] = []
    run_id: Optional[str] = None  # header x-mlflow-run-id: link every trace of the batch to this run

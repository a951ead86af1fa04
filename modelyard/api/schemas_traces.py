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

from ..entities.traces import Span
from .schemas import Int64, Request


class TraceBody(Request):
    trace_info: Optional[dict[str, Any]] = None


class StartTrace(Request):
    trace: Optional[TraceBody] = None


class TraceId(Request):
    trace_id: Optional[str] = None


class GetTrace(TraceId):
    allow_partial: Optional[str] = None
    # Our extension: one page of spans at a time (all spans when absent, as MLflow answers).
    max_spans: Optional[Int64] = None
    page_token: Optional[str] = None


class BatchGetTraces(Request):
    trace_ids: list[str] = []
    experiment_ids: list[str] = []


class ExperimentLocation(Request):
    experiment_id: Optional[str] = None


class TraceLocation(Request):
    type: Optional[str] = None
    mlflow_experiment: Optional[ExperimentLocation] = None


class SearchTraces(Request):
    locations: list[TraceLocation] = []
    experiment_ids: list[str] = []  # MLflow 2's spelling
    filter: Optional[str] = None
    max_results: Optional[Int64] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class DeleteTraces(Request):
    experiment_id: Optional[str] = None
    max_timestamp_millis: Optional[Int64] = None
    max_traces: Optional[Int64] = None
    request_ids: list[str] = []


class DeleteTracesOf(Request):
    """Our extension: every trace of one user or one session (``mlflow.trace.user``/``mlflow.trace.session``)."""

    experiment_id: Optional[str] = None
    user: Optional[str] = None
    session_id: Optional[str] = None


class SetTraceTag(Request):
    request_id: Optional[str] = None
    trace_id: Optional[str] = None
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteTraceTag(Request):
    request_id: Optional[str] = None
    trace_id: Optional[str] = None
    key: Optional[str] = None


class LinkTracesToRun(Request):
    trace_ids: list[str] = []
    run_id: Optional[str] = None


class PromptVersionRef(Request):
    name: Optional[str] = None
    version: Optional[str] = None


class LinkPromptsToTrace(Request):
    trace_id: Optional[str] = None
    prompt_versions: list[PromptVersionRef] = []


class CreateAssessment(Request):
    assessment: Optional[dict[str, Any]] = None
    trace_id: Optional[str] = None  # from the path


class AssessmentId(Request):
    trace_id: Optional[str] = None
    assessment_id: Optional[str] = None


class FieldMask(Request):
    paths: list[str] = []


class UpdateAssessment(AssessmentId):
    assessment: Optional[dict[str, Any]] = None
    update_mask: Optional[FieldMask | str] = None


class ExportSpans(Request):
    """An OTLP export, decoded by the route from protobuf or JSON (not a JSON body of its own)."""

    experiment_id: Optional[str] = None
    spans: list[Span] = []
    run_id: Optional[str] = None  # header x-mlflow-run-id: link every trace of the batch to this run

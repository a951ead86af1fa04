"""Trace methods of ``Client``: send a finished trace, read one back, search.

>>> c = my.Client()
>>> info, spans = c.get_trace("tr-...")          # spans as OpenTelemetry JSON objects
>>> page = c.search_traces(["0"], "span.type = 'LLM'")
>>> c.log_assessment("tr-...", {"assessment_name": "helpful", "feedback": {"value": True}})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import schemas_traces as s
from ..api import traces as ops
from ..api.operations import Operation
from ..entities import PagedList
from ..entities.traces import Span, TraceInfo, trace_info_from_dict


class TracesMethods:
    _t: Any

    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    def log_trace(self, experiment_id: str, spans: Sequence[Span], info: TraceInfo) -> None:
        """Store a finished trace: its spans, then its info (as the mlflow client does)."""
        self._t.log_traces(experiment_id, [(list(spans), info)])

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[Sequence[Span], TraceInfo]]) -> None:
        """Store finished traces of one experiment: all their spans in one request, then each info."""
        self._t.log_traces(experiment_id, [(list(spans), info) for spans, info in traces])

    def get_trace(self, trace_id: str) -> tuple[TraceInfo, list[dict[str, Any]]]:
        """The trace's info and every span, as OpenTelemetry protobuf JSON objects."""
        out = self._call(ops.GET_TRACE, s.GetTrace(trace_id=trace_id))["trace"]
        return trace_info_from_dict(out["trace_info"]), list(out.get("spans", []))

    def log_assessment(self, trace_id: str, assessment: dict[str, Any]) -> dict[str, Any]:
        """Attach feedback or an expectation to a trace; ``assessment`` is MLflow's JSON shape (AssessmentV3):
        ``{"assessment_name": "correct", "feedback": {"value": True}, "source": {"source_type": "CODE",
        "source_id": "exact"}, "rationale": ..., "metadata": {...}}``. Returns it as stored, with its id."""
        out = self._call(ops.CREATE_ASSESSMENT, s.CreateAssessment(assessment=assessment, trace_id=trace_id))
        return dict(out["assessment"])

    def search_traces(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                      max_results: int = 100, order_by: list[str] | None = None,
                      page_token: str | None = None) -> PagedList:
        """One page of trace infos (newest first), with MLflow's ``search_traces`` filter grammar."""
        locations = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(e)}}
                     for e in experiment_ids]
        req = msgspec_convert({"locations": locations, "filter": filter_string, "max_results": max_results,
                               "order_by": list(order_by or []), "page_token": page_token})
        out = self._call(ops.SEARCH_TRACES, req)
        return PagedList([trace_info_from_dict(t) for t in out.get("traces", [])], out.get("next_page_token"))


def msgspec_convert(values: dict[str, Any]) -> s.SearchTraces:
    import msgspec

    return msgspec.convert({k: v for k, v in values.items() if v is not None}, s.SearchTraces)

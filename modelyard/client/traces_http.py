"""Trace methods of the HTTP transport: spans as OTLP JSON to ``/v1/traces``, the info to MLflow 3's API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..entities import PagedList
from ..entities.traces import Span, TraceInfo, duration_ms, timestamp_ms

_V3 = "/api/3.0/mlflow/traces"


def _info(d: dict[str, Any]) -> TraceInfo:
    exp = ((d.get("trace_location") or {}).get("mlflow_experiment") or {}).get("experiment_id", "")
    duration = d.get("execution_duration")
    return TraceInfo(
        d["trace_id"], str(exp), timestamp_ms(d.get("request_time", 0), "request_time"),
        None if duration is None else duration_ms(duration, "execution_duration"), d.get("state", "IN_PROGRESS"),
        d.get("request_preview"), d.get("response_preview"), d.get("client_request_id"),
        dict(d.get("tags") or {}), dict(d.get("trace_metadata") or {}), list(d.get("assessments") or []),
    )


class HttpTraces:
    call: Callable[..., dict[str, Any]]

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[list[Span], TraceInfo]]) -> None:
        otlp = [s.to_otlp_json() for spans, _ in traces for s in spans]
        self.call("POST", "/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": otlp}]}]},
                  params={"experiment_id": experiment_id})
        for _, info in traces:
            self.call("POST", _V3, {"trace": {"trace_info": info.to_dict()}})

    def get_trace(self, trace_id: str) -> tuple[TraceInfo, list[dict[str, Any]]]:
        out = self.call("GET", f"{_V3}/get", params={"trace_id": trace_id})["trace"]
        return _info(out["trace_info"]), list(out.get("spans", []))

    def search_traces(self, experiment_ids: list[str], filter_string: str | None, max_results: int,
                      order_by: list[str] | None, page_token: str | None) -> PagedList:
        body: dict[str, Any] = {
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": e}} for e in experiment_ids],
            "max_results": max_results,
        }
        for key, value in (("filter", filter_string), ("order_by", order_by), ("page_token", page_token)):
            if value:
                body[key] = value
        out = self.call("POST", f"{_V3}/search", body)
        return PagedList([_info(t) for t in out.get("traces", [])], out.get("next_page_token"))

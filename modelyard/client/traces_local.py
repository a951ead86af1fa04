"""Trace methods of the in-process transport (they call the service)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.traces import Span, TraceInfo


class LocalTraces:
    service: Any

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[list[Span], TraceInfo]]) -> None:
        self.service.traces.log_traces(
            experiment_id, [s for spans, _ in traces for s in spans], [info.to_dict() for _, info in traces])

    def get_trace(self, trace_id: str) -> tuple[TraceInfo, list[dict[str, Any]]]:
        info, spans, _ = self.service.traces.get_trace(trace_id)
        return info, [json.loads(s.content) for s in spans]

    def search_traces(self, experiment_ids: list[str], filter_string: str | None, max_results: int,
                      order_by: list[str] | None, page_token: str | None) -> PagedList:
        infos, token = self.service.traces.search(experiment_ids, filter_string, max_results, order_by, page_token)
        return PagedList(infos, token)

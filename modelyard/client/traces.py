"""Trace methods of ``Client``: send a finished trace, read one back, search.

>>> c = my.Client()
>>> info, spans = c.get_trace("tr-...")          # spans as OpenTelemetry JSON objects
>>> page = c.search_traces(["0"], "span.type = 'LLM'")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.traces import Span, TraceInfo


class TracesMethods:
    _t: Any

    def log_trace(self, experiment_id: str, spans: Sequence[Span], info: TraceInfo) -> None:
        """Store a finished trace: its spans, then its info (as the mlflow client does)."""
        self._t.log_traces(experiment_id, [(list(spans), info)])

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[Sequence[Span], TraceInfo]]) -> None:
        """Store finished traces of one experiment: all their spans in one request, then each info."""
        self._t.log_traces(experiment_id, [(list(spans), info) for spans, info in traces])

    def get_trace(self, trace_id: str) -> tuple[TraceInfo, list[dict[str, Any]]]:
        """The trace's info and every span, as OpenTelemetry protobuf JSON objects."""
        return self._t.get_trace(trace_id)  # type: ignore[no-any-return]

    def search_traces(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                      max_results: int = 100, order_by: list[str] | None = None,
                      page_token: str | None = None) -> PagedList:
        """One page of trace infos (newest first), with MLflow's ``search_traces`` filter grammar."""
        return self._t.search_traces(  # type: ignore[no-any-return]
            list(experiment_ids), filter_string, max_results, order_by, page_token)

"""Request structs of the inference log (``/api/2.0/modelyard/inference/*``)."""

from __future__ import annotations

from typing import Any

from .schemas import Int64, Request

# Served requests or feedback items one call may carry.
MAX_ROWS_PER_CALL = 10_000


class LogRequests(Request):
    requests: list[dict[str, Any]] = []


class LogFeedback(Request):
    feedback: list[dict[str, Any]] = []


class SearchRequests(Request):
    model_name: str | None = None
    model_version: str | None = None
    start_time_ms: Int64 | None = None
    end_time_ms: Int64 | None = None
    max_results: Int64 = 1000
    offset: Int64 = 0

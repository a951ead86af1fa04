"""Request bodies and queries of the monitoring routes (``/api/2.0/modelyard/monitoring/...``)."""

from __future__ import annotations

from typing import Any

from .schemas import Int64, Request

__all__ = [
    "AcknowledgeAlert", "CreateMonitor", "GetReference", "GetResult", "ListAlerts", "ListMonitors", "ListResults",
    "MonitorName", "SetReference", "UpdateMonitor",
]


class SetReference(Request):
    model_name: str = ""
    version: str = ""
    profile: dict[str, Any] | None = None


class GetReference(Request):
    model_name: str = ""
    version: str = ""


class CreateMonitor(Request):
    name: str = ""
    model_name: str = ""
    version: str | None = None
    alias: str | None = None
    task: str | None = None
    interval_s: Int64 | None = None
    window_minutes: float | None = None
    window_rows: Int64 | None = None
    rules: list[dict[str, Any]] | None = None
    alpha: float | None = None
    thresholds: dict[str, float] | None = None
    description: str | None = None
    source: dict[str, Any] | None = None  # {"kind": "traces", ...}: a window of traces (service/trace_alerts.py)

    def spec(self) -> dict[str, Any]:
        fields = ("window_minutes", "window_rows", "rules", "alpha", "thresholds", "description", "source")
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not None}


class UpdateMonitor(CreateMonitor):
    pass


class MonitorName(Request):
    name: str = ""


class ListMonitors(Request):
    model_name: str | None = None
    max_results: Int64 = 100
    offset: Int64 = 0


class ListResults(Request):
    name: str = ""
    max_results: Int64 = 100
    offset: Int64 = 0
    with_report: bool = False


class GetResult(Request):
    result_id: str = ""


class ListAlerts(Request):
    monitor_name: str | None = None
    status: str | None = None
    max_results: Int64 = 100
    offset: Int64 = 0


class AcknowledgeAlert(Request):
    alert_id: str = ""
    acknowledged_by: str | None = None

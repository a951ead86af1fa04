"""Request bodies and queries of the monitoring routes (``/api/2.0/modelyard/monitoring/...``)."""

from __future__ import annotations

from typing import Any

import msgspec

from .schemas import Int64

__all__ = [
    "AcknowledgeAlert", "CreateMonitor", "GetReference", "GetResult", "ListAlerts", "ListMonitors", "ListResults",
    "MonitorName", "SetReference", "UpdateMonitor",
]


class SetReference(msgspec.Struct):
    model_name: str = ""
    version: str = ""
    profile: dict[str, Any] | None = None


class GetReference(msgspec.Struct):
    model_name: str = ""
    version: str = ""


class CreateMonitor(msgspec.Struct):
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

    def spec(self) -> dict[str, Any]:
        fields = ("window_minutes", "window_rows", "rules", "alpha", "thresholds", "description")
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not None}


class UpdateMonitor(CreateMonitor):
    pass


class MonitorName(msgspec.Struct):
    name: str = ""


class ListMonitors(msgspec.Struct):
    model_name: str | None = None
    max_results: Int64 = 100
    offset: Int64 = 0


class ListResults(msgspec.Struct):
    name: str = ""
    max_results: Int64 = 100
    offset: Int64 = 0
    with_report: bool = False


class GetResult(msgspec.Struct):
    result_id: str = ""


class ListAlerts(msgspec.Struct):
    monitor_name: str | None = None
    status: str | None = None
    max_results: Int64 = 100
    offset: Int64 = 0


class AcknowledgeAlert(msgspec.Struct):
    alert_id: str = ""
    acknowledged_by: str | None = None

"""Plain data types of model monitoring: monitors, their results and the alerts their rules raised.

``to_dict`` gives the REST JSON shape (ids as strings, a monitor's spec fields inline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Alert", "Monitor", "MonitorResult"]


@dataclass(slots=True)
class Monitor:
    name: str
    model_name: str
    model_version: str | None
    alias: str | None
    task: str | None
    spec: dict[str, Any]
    interval_s: int | None
    created_ms: int
    updated_ms: int
    next_run_ms: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model_name": self.model_name, "model_version": self.model_version,
                "alias": self.alias, "task": self.task, "interval_s": self.interval_s, "created_ms": self.created_ms,
                "updated_ms": self.updated_ms, "next_run_ms": self.next_run_ms, **self.spec}


@dataclass(slots=True)
class MonitorResult:
    id: int
    monitor_name: str
    model_version: str | None
    started_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    rows: int
    labelled: int
    metrics: dict[str, float | None]
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, with_report: bool = True) -> dict[str, Any]:
        out = {"id": str(self.id), "monitor_name": self.monitor_name, "model_version": self.model_version,
               "started_ms": self.started_ms, "window_start_ms": self.window_start_ms,
               "window_end_ms": self.window_end_ms, "rows": self.rows, "labelled": self.labelled,
               "metrics": self.metrics}
        if with_report:
            out["report"] = self.report
        return out


@dataclass(slots=True)
class Alert:
    id: int
    monitor_name: str
    result_id: int
    rule: str
    metric: str
    value: float | None
    threshold: float
    message: str
    status: str
    created_ms: int
    acknowledged_ms: int | None = None
    acknowledged_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "monitor_name": self.monitor_name, "result_id": str(self.result_id),
                "rule": self.rule, "metric": self.metric, "value": self.value, "threshold": self.threshold,
                "message": self.message, "status": self.status, "created_ms": self.created_ms,
                "acknowledged_ms": self.acknowledged_ms, "acknowledged_by": self.acknowledged_by}

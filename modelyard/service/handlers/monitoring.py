"""Monitoring's operations (see ``api/monitoring.py``): reference profiles, monitors, results, alerts."""

from __future__ import annotations

from typing import Any

from ...api.schemas_monitoring import (
    AcknowledgeAlert,
    CreateMonitor,
    GetReference,
    GetResult,
    ListAlerts,
    ListMonitors,
    ListResults,
    MonitorName,
    SetReference,
    UpdateMonitor,
)
from ...errors import InvalidParameterValue
from .. import TrackingService


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidParameterValue(f"Missing value for required parameter '{field}'.")
    return value


def set_reference(svc: TrackingService, req: SetReference) -> dict[str, Any]:
    if req.profile is None:
        raise InvalidParameterValue("Missing value for required parameter 'profile': build one with my.monitoring.profile(df).")
    return svc.monitoring.set_reference(_required(req.model_name, "model_name"), _required(req.version, "version"),
                                        req.profile)


def get_reference(svc: TrackingService, req: GetReference) -> dict[str, Any]:
    name, version = _required(req.model_name, "model_name"), _required(req.version, "version")
    return {"profile": svc.monitoring.get_reference(name, version)}


def delete_reference(svc: TrackingService, req: GetReference) -> dict[str, Any]:
    svc.monitoring.delete_reference(_required(req.model_name, "model_name"), _required(req.version, "version"))
    return {}


def create_monitor(svc: TrackingService, req: CreateMonitor) -> dict[str, Any]:
    m = svc.monitoring.create_monitor(_required(req.name, "name"), _required(req.model_name, "model_name"),
                                      version=req.version, alias=req.alias, task=req.task, interval_s=req.interval_s,
                                      **req.spec())
    return {"monitor": m.to_dict()}


def update_monitor(svc: TrackingService, req: UpdateMonitor) -> dict[str, Any]:
    m = svc.monitoring.update_monitor(_required(req.name, "name"), version=req.version, alias=req.alias, task=req.task,
                                      interval_s=req.interval_s, **req.spec())
    return {"monitor": m.to_dict()}


def get_monitor(svc: TrackingService, req: MonitorName) -> dict[str, Any]:
    return {"monitor": svc.monitoring.get_monitor(_required(req.name, "name")).to_dict()}


def list_monitors(svc: TrackingService, req: ListMonitors) -> dict[str, Any]:
    found = svc.monitoring.list_monitors(req.model_name, req.max_results, req.offset)
    return {"monitors": [m.to_dict() for m in found]}


def delete_monitor(svc: TrackingService, req: MonitorName) -> dict[str, Any]:
    svc.monitoring.delete_monitor(_required(req.name, "name"))
    return {}


def run_monitor(svc: TrackingService, req: MonitorName) -> dict[str, Any]:
    return {"result": svc.monitoring.run_monitor(_required(req.name, "name")).to_dict()}


def list_results(svc: TrackingService, req: ListResults) -> dict[str, Any]:
    found = svc.monitoring.results(_required(req.name, "name"), req.max_results, req.offset, req.with_report)
    return {"results": [r.to_dict(req.with_report) for r in found]}


def get_result(svc: TrackingService, req: GetResult) -> dict[str, Any]:
    return {"result": svc.monitoring.get_result(_required(req.result_id, "result_id")).to_dict()}


def list_alerts(svc: TrackingService, req: ListAlerts) -> dict[str, Any]:
    found = svc.monitoring.alerts(req.monitor_name, req.status, req.max_results, req.offset)
    return {"alerts": [a.to_dict() for a in found]}


def acknowledge_alert(svc: TrackingService, req: AcknowledgeAlert) -> dict[str, Any]:
    return {"alert": svc.monitoring.acknowledge_alert(_required(req.alert_id, "alert_id"), req.acknowledged_by).to_dict()}

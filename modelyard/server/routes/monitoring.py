"""/api/2.0/modelyard/monitoring/*: reference profiles, monitors, their results and alerts.

Each route is a plain ``fn(service, request) -> dict`` over the monitoring
service; request types live in ``api/schemas_monitoring.py``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

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
from ...service import TrackingService
from ..protocol import endpoint
from ..ui import monitors
from ..ui.render import page


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


_HELP = {
    "modelyard_monitor_metric": "A monitor's latest score (drift share, performance, prediction rate...).",
    "modelyard_monitor_feature_drift": "A monitor's latest drift statistic of one feature.",
    "modelyard_monitor_last_run_timestamp_seconds": "When a monitor last ran.",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


async def prometheus(request: Request) -> Response:
    """Prometheus text format: monitors' latest scores as gauges."""
    service = request.app.state.service
    gauges = await run_in_threadpool(service.monitoring.gauges)
    lines = []
    for name, text in _HELP.items():
        rows = [(labels, value) for n, labels, value in gauges if n == name]
        if not rows:
            continue
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
        for labels, value in rows:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{inner}}} {value!r}")
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


ABSOLUTE_ROUTES = [
    ("/metrics", ["GET"], prometheus),
    ("/monitors", ["GET"], page(monitors.monitors_page)),
    ("/monitors/{name}", ["GET"], page(monitors.monitor_page)),
    ("/monitors/{name}/report", ["GET"], page(monitors.monitor_report)),
]

_P = "/monitoring"
EXTENSION_ROUTES = [
    (f"{_P}/references/set", ["POST"], endpoint(SetReference, set_reference)),
    (f"{_P}/references/get", ["GET"], endpoint(GetReference, get_reference)),
    (f"{_P}/references/delete", ["POST"], endpoint(GetReference, delete_reference)),
    (f"{_P}/monitors/create", ["POST"], endpoint(CreateMonitor, create_monitor)),
    (f"{_P}/monitors/update", ["POST"], endpoint(UpdateMonitor, update_monitor)),
    (f"{_P}/monitors/get", ["GET"], endpoint(MonitorName, get_monitor)),
    (f"{_P}/monitors/list", ["GET"], endpoint(ListMonitors, list_monitors)),
    (f"{_P}/monitors/delete", ["POST"], endpoint(MonitorName, delete_monitor)),
    (f"{_P}/monitors/run", ["POST"], endpoint(MonitorName, run_monitor)),
    (f"{_P}/results/list", ["GET"], endpoint(ListResults, list_results)),
    (f"{_P}/results/get", ["GET"], endpoint(GetResult, get_result)),
    (f"{_P}/alerts/list", ["GET"], endpoint(ListAlerts, list_alerts)),
    (f"{_P}/alerts/acknowledge", ["POST"], endpoint(AcknowledgeAlert, acknowledge_alert)),
]

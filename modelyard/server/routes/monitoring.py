"""Monitoring's routes that are not operations: ``/metrics`` (monitors' scores as Prometheus gauges)
and the UI's monitor pages. Its operations are declared in ``api/monitoring.py``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..ui import monitors
from ..ui.render import page

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

"""Monitoring's routes that are not operations: the UI's monitor pages. Its operations are declared
in ``api/monitoring.py``; monitors' scores are gauges of the server's ``/metrics`` (``server/metrics.py``)."""

from __future__ import annotations

from ..ui import monitors
from ..ui.render import page

ABSOLUTE_ROUTES = [
    ("/monitors", ["GET"], page(monitors.monitors_page)),
    ("/monitors/{name}", ["GET"], page(monitors.monitor_page)),
    ("/monitors/{name}/report", ["GET"], page(monitors.monitor_report)),
]

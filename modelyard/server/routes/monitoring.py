"""Monitoring's routes that are not operations: the UI's monitor pages. Its operations are declared
in ``api/monitoring.py``; monitors' scores are gauges of the server's ``/metrics`` (``server/metrics.py``)."""

from __future__ import annotations

from ..ui import monitors
from ..ui.render import page

# With --auth: READ on the registered model a monitor watches; the list shows only those.
READ_MONITOR = ("READ", "monitor", "name")

ABSOLUTE_ROUTES = [
    ("/monitors", ["GET"], page(monitors.monitors_page)),
    ("/monitors/{name}", ["GET"], page(monitors.monitor_page, READ_MONITOR)),
    ("/monitors/{name}/report", ["GET"], page(monitors.monitor_report, READ_MONITOR)),
]

"""The web UI: server-rendered pages (Jinja2) over the service layer, made lively with htmx.

Page handlers live in one module per page; ``server/routes/ui.py`` lists their paths.
Static files (our CSS and JS, vendored htmx and uPlot) are under ``static/``.
"""

from __future__ import annotations

import os

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")

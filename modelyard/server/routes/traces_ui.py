"""The trace pages of the web UI (``server/ui/traces.py``): an experiment's traces, one trace, a span.

Reading needs READ on the experiment (of the trace), as every other page.
"""

from __future__ import annotations

from ..ui import traces
from ..ui.render import page

READ_EXPERIMENT = ("READ", "experiment", "experiment_id")
READ_TRACE = ("READ", "trace", "trace_id")

ABSOLUTE_ROUTES = [
    ("/experiments/{experiment_id}/traces", ["GET"], page(traces.traces_page, READ_EXPERIMENT)),
    ("/traces/{trace_id}", ["GET"], page(traces.trace_page, READ_TRACE)),
    ("/traces/{trace_id}/spans/{span_id}", ["GET"], page(traces.span_fragment, READ_TRACE)),
]

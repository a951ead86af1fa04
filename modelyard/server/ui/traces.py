"""Trace pages: an experiment's traces (filter, search, keyset pages) and one trace (span tree and
waterfall, a span's inputs, outputs and attributes, assessments).

The trace page sends every span as a compact outline (ids, parents, names, types, statuses and
times as columns of one JSON object in the page; no span content), and ``static/traces.js`` draws
only the rows in view: a 32,000-span trace is one small read and one small page. A span's content
comes on click (``/traces/{id}/spans/{span_id}``).
"""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ...entities.traces import TraceInfo, decode_any_value
from ...errors import ModelyardError
from .experiments import name_filter
from .render import inline_status, render, render_fragment, service

PAGE_SIZE = 50
SIZES = (25, 50, 100, 500)
TOKEN_USAGE = "mlflow.trace.tokenUsage"
INPUTS, OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"
ORDERS = {"": None, "latency": "execution_time_ms DESC", "oldest": "timestamp_ms ASC"}
_encode = msgspec.json.Encoder().encode


def tokens(info: TraceInfo) -> int | None:
    """The trace's total tokens, from MLflow's ``mlflow.trace.tokenUsage`` metadata (None if absent)."""
    raw = info.metadata.get(TOKEN_USAGE)
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        total = usage.get("total_tokens")
        if total is None:
            total = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
        return int(total)
    except (ValueError, TypeError, AttributeError):
        return None


def trace_filter(q: str) -> str:
    """Plain words search the trace's name; text with an operator is MLflow's search grammar."""
    return name_filter(q, "trace.name")


def traces_page(request: Request) -> Response:
    """``/experiments/{id}/traces``: newest first, a keyset page at a time (``page_token``)."""
    svc = service(request)
    experiment = svc.experiments.get(request.path_params["experiment_id"])
    q = request.query_params.get("q", "")
    order = request.query_params.get("order", "")
    try:
        size = int(request.query_params.get("n", PAGE_SIZE))
    except ValueError:
        size = PAGE_SIZE
    size = size if size in SIZES else PAGE_SIZE
    token = request.query_params.get("page_token") or None
    error, next_token, status = None, None, 200
    infos: list[TraceInfo] = []
    try:
        order_by = ORDERS.get(order)
        infos, next_token = svc.traces.search([experiment.experiment_id], trace_filter(q) or None, size,
                                              [order_by] if order_by else None, token)
    except ModelyardError as exc:
        error, status = exc.message, inline_status(request)
    rows = [dict(info=i, name=i.tags.get("mlflow.traceName", ""), tokens=tokens(i),
                 feedback=sum(1 for a in i.assessments if a.get("feedback") is not None and a.get("valid", True)))
            for i in infos]
    return render(request, "traces.html", status=status, section="experiments", experiment=experiment, rows=rows,
                  q=q, order=order, size=size, sizes=SIZES, next_token=next_token, error=error, first=token is None,
                  params={"q": q, "order": order or None, "n": size if size != PAGE_SIZE else None})


def outline_json(spans: list[tuple[Any, ...]]) -> Markup:
    """The spans as columns (times in µs from the trace's first start), safe inside a ``<script>``."""
    if not spans:
        ids: tuple[Any, ...] = ()
        parents = names = types = statuses = starts = ends = ids
    else:
        ids, parents, names, types, statuses, starts, ends = zip(*spans, strict=True)
    index = dict(zip(ids, range(len(ids)), strict=True))
    t0 = min(starts, default=0)
    end = max((e for e in ends if e is not None), default=t0)
    body = {
        "ids": ids, "parent": [index.get(p, -1) for p in parents], "name": names, "type": types, "status": statuses,
        "start": [(s - t0) // 1000 for s in starts],
        "dur": [-1 if e is None else (e - s) // 1000 for s, e in zip(starts, ends, strict=True)],
        "total": (max(end, max(starts, default=t0)) - t0) // 1000,
    }
    text = _encode(body).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - JSON with <, > and & escaped: cannot close the script element


def trace_page(request: Request) -> Response:
    """``/traces/{trace_id}``: READ on the trace's experiment (the route checks it)."""
    svc = service(request)
    info, spans = svc.traces.outline(request.path_params["trace_id"])
    experiment = svc.experiments.get(info.experiment_id)
    assessments = sorted(info.assessments, key=lambda a: (a.get("create_time") or "", a.get("assessment_id", "")))
    return render(request, "trace.html", section="experiments", info=info, experiment=experiment,
                  name=info.tags.get("mlflow.traceName", ""), tokens=tokens(info), assessments=assessments,
                  span_count=len(spans), outline=outline_json(spans),
                  tags=sorted(info.tags.items()), metadata=sorted(info.metadata.items()))


def span_fragment(request: Request) -> Response:
    """One span's details (inputs, outputs, attributes, events), the trace page's side pane."""
    trace_id, span_id = request.path_params["trace_id"], request.path_params["span_id"]
    span = service(request).traces.span(trace_id, span_id)
    attributes = {kv.get("key", ""): decode_any_value(kv.get("value") or {}) for kv in span.get("attributes", [])}
    inputs, outputs = attributes.pop(INPUTS, None), attributes.pop(OUTPUTS, None)
    start = int(span.get("start_time_unix_nano") or 0)
    end = span.get("end_time_unix_nano")
    return render_fragment(
        request, "trace_span.html", span=span, span_id=span_id, trace_id=trace_id,
        inputs=_shown(inputs), outputs=_shown(outputs),
        attributes=sorted((k, _shown(v)) for k, v in attributes.items()),
        duration_ms=None if end is None else (int(end) - start) / 1e6,
        span_status=(span.get("status") or {}).get("code", "").replace("STATUS_CODE_", ""),
        message=(span.get("status") or {}).get("message", ""), events=span.get("events") or [])


def _shown(value: Any) -> str | None:
    """An attribute as the page shows it: JSON text (stored as a JSON string by MLflow) pretty-printed."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return cast("str | None", value)
    return json.dumps(value, indent=2, ensure_ascii=False)


"""Monitor pages: the list, one monitor's scores over time with its alert history, its latest report."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...errors import ResourceDoesNotExist
from ...service.trace_alerts import METRICS as TRACE_METRICS
from ..auth import readable
from .render import render, service

HISTORY = 50
SHOWN = ("share_drifted", "dataset_drift", "quality_failed", "prediction_rate", "estimated_accuracy", "accuracy",
         "estimated_f1", "f1", "roc_auc", "jaccard", "mae", "rmse", "rows", "labelled", *TRACE_METRICS)
ESTIMATED = ("accuracy", "precision", "recall", "f1")


def monitors_page(request: Request) -> Response:
    """Every monitor on a model the caller may read."""
    found = service(request).monitoring.list_monitors(None, 1000)
    allowed = readable(request, "registered_model", {m.model_name for m in found})
    found = [m for m in found if m.model_name in allowed]
    latest: dict[str, Any] = {}
    for m in found:
        results = service(request).monitoring.results(m.name, 1)
        latest[m.name] = results[0] if results else None
    open_alerts = service(request).monitoring.alerts(None, "open", 1000)
    counts: dict[str, int] = {}
    for a in open_alerts:
        if a.monitor_name in latest:
            counts[a.monitor_name] = counts.get(a.monitor_name, 0) + 1
    return render(request, "monitors.html", section="monitors", monitors=found, latest=latest, open_alerts=counts)


def monitor_page(request: Request) -> Response:
    name = request.path_params["name"]
    svc = service(request).monitoring
    m = svc.get_monitor(name)
    results = svc.results(name, HISTORY)
    keys = [k for k in SHOWN if any(r.metrics.get(k) is not None for r in results)]
    latest = svc.results(name, 1, with_report=True)
    return render(request, "monitor.html", section="monitors", m=m, results=results, keys=keys,
                  alerts=svc.alerts(name, None, 100), estimate=_estimate(latest[0].report if latest else {}))


def _estimate(report: dict[str, Any]) -> dict[str, Any] | None:
    """The latest run's confidence-based estimate, with the realised scores beside it once labels came."""
    est = report.get("estimated_performance")
    if not est or not est.get("rows"):
        return None
    against = report.get("estimate_vs_realised") or {}
    rows = [(k, est.get(k), (against.get("metrics") or {}).get(k, {})) for k in ESTIMATED if est.get(k) is not None]
    return {"rows": est["rows"], "labelled": against.get("rows", 0), "positive": est.get("positive"),
            "scores": [(k, window, pair.get("estimated"), pair.get("realised")) for k, window, pair in rows]}


def monitor_report(request: Request) -> Response:
    """The latest run's drift report as the self-contained HTML page ``modelyard monitor drift`` writes."""
    from ...monitoring.report import render_html

    name = request.path_params["name"]
    svc = service(request).monitoring
    svc.get_monitor(name)
    results = svc.results(name, 1, with_report=True)
    if not results or "drift" not in results[0].report:
        raise ResourceDoesNotExist(f"Monitor {name} has no drift report yet: run it once its model has a reference.")
    r = results[0]
    history = [x.to_dict(False) for x in svc.results(name, HISTORY)]
    page = render_html(r.report["drift"], title=f"Monitor {name}: version {r.model_version}",
                       quality=r.report.get("quality"), history=history)
    return HTMLResponse(page)

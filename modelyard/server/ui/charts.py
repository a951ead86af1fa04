"""The chart board of an experiment, the metric page, and the histories they draw.

The board (``/experiments/{id}/charts``) shows the runs of the runs table (its filter, or the runs
selected there) in panels laid out by the experiment's saved layout (``service.charts``), or by
default a panel per metric: a line chart for metrics with a history, a bar chart for single values.
Drawing happens in the browser (``static/charts.js``, uPlot and small SVG charts); histories come
downsampled from :func:`series`.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...api.schemas_charts import ChartBoardLayout, ChartPanel
from ...entities import Run, RunStatus
from ...errors import InvalidParameterValue, ModelyardError, PermissionDenied
from ...service.charts import parse_layout
from ...service.runs import MAX_BULK_INTERVAL_RUNS
from ..auth import principal_of, require
from .render import inline_status, render, service
from .runs_table import GROUP_COOKIE, remembered_group

SYSTEM_PREFIX = "system/"
SHOWN = (10, 20, 50, 100)
DEFAULT_SHOWN = 20
CHART_POINTS = 320  # points per run and panel on the board (as MLflow's chart view samples)
FULL_POINTS = 2500  # the metric page: the most the sampled-history call gives
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#636363",
)
MAX_KEYS = 50  # metrics in one /ui/histories request (a board's line panels)
CACHE_BYTES = 64 * 1024 * 1024
_HEX = re.compile(r"[0-9a-fA-F]{8}")


def run_color(run_id: str) -> str:
    """The colour of a run: the same on every chart and page, whatever else is shown."""
    head = run_id[:8]
    n = int(head, 16) if _HEX.fullmatch(head) else zlib.crc32(run_id.encode())
    return PALETTE[n % len(PALETTE)]


def labels(runs: list[Run]) -> dict[str, str]:
    """Run names, with a short id beside names that several runs share."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.info.run_name] = counts.get(r.info.run_name, 0) + 1
    return {r.info.run_id: r.info.run_name if counts[r.info.run_name] == 1 and r.info.run_name
            else f"{r.info.run_name or 'run'} · {r.info.run_id[:7]}" for r in runs}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def runs_json(runs: list[Run]) -> list[dict[str, Any]]:
    names = labels(runs)
    return [{
        "id": r.info.run_id, "name": r.info.run_name, "label": names[r.info.run_id], "color": run_color(r.info.run_id),
        "start": r.info.start_time, "metrics": {k: _finite(v) for k, v in r.data.metrics.items()},
        "params": r.data.params, "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
    } for r in runs]


def default_layout(runs: list[Run]) -> ChartBoardLayout:
    """A panel per metric: a line chart where some run has points past step 0, else bars."""
    stepped: dict[str, bool] = {}
    for r in runs:
        for m in r.data.metric_objects:
            stepped[m.key] = stepped.get(m.key, False) or m.step > 0
        for key in r.data.metrics:
            stepped.setdefault(key, False)
    keys = sorted(stepped, key=lambda k: (k.startswith(SYSTEM_PREFIX), k))
    return ChartBoardLayout(panels=[ChartPanel(type="line" if stepped[k] else "bar", metric=k) for k in keys])


def _may_edit(request: Request, experiment_id: str) -> bool:
    try:
        require(request, "EDIT", "experiment", experiment_id)
    except PermissionDenied:
        return False
    return True


def _shown(raw: str | None) -> int:
    try:
        value = int(raw or DEFAULT_SHOWN)
    except ValueError:
        return DEFAULT_SHOWN
    return value if value in SHOWN else DEFAULT_SHOWN


def _runs(request: Request, experiment_id: str, q: str, n: int) -> tuple[list[Run], bool]:
    """The selected runs (``run=`` ids of this experiment), else the first ``n`` the filter finds."""
    svc = service(request)
    ids = list(dict.fromkeys(r for r in request.query_params.getlist("run") if r))
    if ids:
        if len(ids) > MAX_BULK_INTERVAL_RUNS:
            raise InvalidParameterValue(f"Chart at most {MAX_BULK_INTERVAL_RUNS} runs at once: select fewer.")
        runs = [svc.runs.get(rid) for rid in ids]
        return [r for r in runs if r.info.experiment_id == experiment_id], True
    return svc.runs.search([experiment_id], q or None, max_results=n, order_by=["attributes.start_time DESC"]).items, False


def board_page(request: Request) -> Response:
    svc = service(request)
    experiment = svc.experiments.get(request.path_params["experiment_id"])
    eid = experiment.experiment_id
    qp = request.query_params
    q, n = qp.get("q", ""), _shown(qp.get("n"))
    error, selected = None, False
    runs: list[Run] = []
    try:
        runs, selected = _runs(request, eid, q, n)
    except ModelyardError as exc:
        what = "Cannot chart the selected runs" if qp.getlist("run") else "Invalid filter"
        error = f"{what}: {exc.message}"
    saved = svc.charts.get(eid)
    layout = saved.layout if saved is not None else default_layout(runs)
    keys = {
        "metrics": sorted({k for r in runs for k in r.data.metrics}),
        "params": sorted({k for r in runs for k in r.data.params}),
        "tags": sorted({k for r in runs for k in r.data.tags if not k.startswith("mlflow.")}),
    }
    # The line panels' histories on a step axis, asked for by a script in the page's head, before
    # the page's scripts load (charts.js takes the answer if it wants the same: prefetch()).
    lines = list(dict.fromkeys(p.metric for p in layout.panels if p.type == "line" and p.metric and (p.x or "step") == "step"))
    ids = [r.info.run_id for r in runs]
    early: dict[str, Any] | None = None
    if lines and runs:
        url = "/ui/histories?" + urlencode([*[("key", k) for k in lines], *[("run", r) for r in ids],
                                            ("max", str(CHART_POINTS)), ("times", "0")])
        early = {"keys": lines, "runs": ids, "points": CHART_POINTS, "times": False, "url": url}
    shown_layout: dict[str, Any] = msgspec.to_builtins(layout)
    if not shown_layout.get("group_by"):  # the grouping chosen in the runs table, remembered in this browser
        remembered = remembered_group(request, eid)
        if remembered:
            shown_layout["group_by"] = remembered
    data = {
        "experiment_id": eid, "runs": runs_json(runs), "layout": shown_layout, "group_cookie": f"{GROUP_COOKIE}{eid}", "saved": saved is not None,
        "keys": keys, "can_edit": _may_edit(request, eid), "points": CHART_POINTS,
        "save_url": f"/experiments/{eid}/charts/layout", "reset_url": f"/experiments/{eid}/charts/reset",
    }
    return render(
        request, "chart_board.html", status=inline_status(request) if error else 200, section="experiments",
        experiment=experiment, runs=runs, data=data, q=q, n=n, shown=SHOWN, error=error, selected=selected,
        saved=saved, early=early, params={"q": q or None, "n": None if n == DEFAULT_SHOWN else n, "run": qp.getlist("run")},
    )


def save_layout(request: Request, form: FormData) -> Response:
    """The board's "Save layout" (EDIT on the experiment, CSRF checked): JSON in, JSON out."""
    who = principal_of(request)
    try:
        layout = parse_layout(str(form.get("layout", "")))
        board = service(request).charts.set(request.path_params["experiment_id"], layout,
                                            who.username if who is not None else None)
    except ModelyardError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    return JSONResponse({"board": board.to_dict()})


def reset_layout(request: Request, form: FormData) -> Response:
    try:
        service(request).charts.delete(request.path_params["experiment_id"])
    except ModelyardError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    return JSONResponse({})


def metric_page(request: Request) -> Response:
    """One metric across chosen runs, its full (sampled) history: ``/metric?key=loss&run=A&run=B``."""
    svc = service(request)
    qp = request.query_params
    key = qp.get("key", "")
    ids = list(dict.fromkeys(r for r in qp.getlist("run") if r))
    if not key:
        raise InvalidParameterValue("Name the metric: /metric?key=NAME&run=RUN_ID.")
    if not ids:
        raise InvalidParameterValue("Name at least one run: /metric?key=NAME&run=RUN_ID.")
    if len(ids) > MAX_BULK_INTERVAL_RUNS:
        raise InvalidParameterValue(f"Show at most {MAX_BULK_INTERVAL_RUNS} runs at once.")
    for rid in ids:
        require(request, "READ", "run", rid)
    runs = [svc.runs.get(rid) for rid in ids]
    experiments = {r.info.experiment_id for r in runs}
    experiment = svc.experiments.get(next(iter(experiments))) if len(experiments) == 1 else None
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    data = {"runs": runs_json(runs), "key": key, "points": FULL_POINTS,
            "layout": {"panels": [{"type": "line", "metric": key}]}}
    return render(request, "metric.html", section="experiments", key=key, runs=runs, data=data,
                  experiment=experiment, metric_keys=metric_keys, run_ids=ids,
                  system=[k for k in metric_keys if k.startswith(SYSTEM_PREFIX)],
                  user=[k for k in metric_keys if not k.startswith(SYSTEM_PREFIX)])


def series(request: Request) -> Response:
    """Downsampled histories of one metric for up to 100 runs, as JSON for the charts.

    ``max`` points per run (MLflow's sampling: evenly spread, the last point always kept);
    ``names=0`` leaves out the run names (the board has them).
    """
    svc = service(request)
    qp = request.query_params
    run_ids = list(dict.fromkeys(qp.getlist("run")))[:MAX_BULK_INTERVAL_RUNS]
    for rid in run_ids:
        require(request, "READ", "run", rid)
    key = qp.get("key", "")
    try:
        points = int(qp.get("max") or CHART_POINTS)
        names = {rid: svc.runs.get(rid).info.run_name for rid in run_ids} if qp.get("names") != "0" else {}
        histories = svc.runs.sampled_history_columns(run_ids, key, max_results=min(max(points, 1), FULL_POINTS))
    except (ModelyardError, ValueError) as exc:
        message = exc.message if isinstance(exc, ModelyardError) else "max must be an integer."
        return JSONResponse({"error": message}, status_code=400)
    out = []
    for h in histories:
        entry: dict[str, Any] = {"run_id": h.run_id, "steps": h.steps, "values": h.values, "times": h.timestamps}
        if names:
            entry["name"] = names[h.run_id]
        out.append(entry)
    # msgspec: several times faster than json.dumps on 100 runs x 400 points.
    return Response(msgspec.json.encode({"key": key, "runs": out}), media_type="application/json")


class _HistoryCache:
    """Encoded sampled histories of finished runs, so that a board opened again (by anyone) does not
    read and sample a million points again.

    An entry is found by (store, run, metric, points, with times) and used only while the run's
    latest point of the metric (step, time and value, from the run itself) is the one it was made
    with: a point logged later (which becomes the latest) makes it stale. Runs still running are
    never cached (their points may arrive out of order). Bounded in bytes, least recently used
    first out.
    """

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None or found[0] != fingerprint:
                return None
            self.entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...], body: bytes) -> None:
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.entries[key] = (fingerprint, body)
            self.size += len(body)
            while self.size > self.limit and self.entries:
                _, (_, dropped) = self.entries.popitem(last=False)
                self.size -= len(dropped)


HISTORY_CACHE = _HistoryCache()


def _fingerprint(run: Run, key: str) -> tuple[Any, ...] | None:
    """What identifies a finished run's history of ``key`` (None: do not cache)."""
    if run.info.status not in RunStatus.TERMINATED:
        return None
    latest = sorted((m.step, m.timestamp, m.value) for m in run.data.metric_objects if m.key == key)
    return (run.info.status, run.info.end_time, *latest)


def histories(request: Request) -> Response:
    """Downsampled histories of several metrics for up to 100 runs, in one request: what a chart
    board's line panels draw (``/ui/histories?key=A&key=B&run=ID...&max=320&times=0``).

    Points are sampled as MLflow's sampled history does (:func:`series`); ``times=0`` leaves out the
    wall times (panels on a step axis do not need them). Answers
    ``{"metrics": {KEY: [{"run_id", "steps", "values", "times"}...]}}``, runs without a point of a
    metric left out of its list.
    """
    svc = service(request)
    qp = request.query_params
    keys = list(dict.fromkeys(k for k in qp.getlist("key") if k))
    run_ids = list(dict.fromkeys(r for r in qp.getlist("run") if r))
    try:
        if not keys:
            raise InvalidParameterValue("Name a metric: /ui/histories?key=NAME&run=RUN_ID.")
        if len(keys) > MAX_KEYS:
            raise InvalidParameterValue(f"Ask for at most {MAX_KEYS} metrics at once (got {len(keys)}).")
        if not run_ids:
            raise InvalidParameterValue("Name at least one run: /ui/histories?key=NAME&run=RUN_ID.")
        if len(run_ids) > MAX_BULK_INTERVAL_RUNS:
            raise InvalidParameterValue(f"Ask for at most {MAX_BULK_INTERVAL_RUNS} runs at once (got {len(run_ids)}).")
        try:
            points = min(max(int(qp.get("max") or CHART_POINTS), 1), FULL_POINTS)
        except ValueError:
            raise InvalidParameterValue(f"max must be an integer, not {qp.get('max')!r}.") from None
        with_times = qp.get("times") != "0"
        for rid in run_ids:
            require(request, "READ", "run", rid)
        runs = {rid: svc.runs.get(rid) for rid in run_ids}
        store = svc.settings.backend_store_uri
        out: dict[str, list[msgspec.Raw]] = {}
        for key in keys:
            having = [rid for rid in run_ids if key in runs[rid].data.metrics]
            parts: dict[str, bytes] = {}
            prints = {rid: _fingerprint(runs[rid], key) for rid in having}
            for rid in having:
                fp = prints[rid]
                hit = HISTORY_CACHE.get((store, rid, key, points, with_times), fp) if fp is not None else None
                if hit is not None:
                    parts[rid] = hit
            missing = [rid for rid in having if rid not in parts]
            if missing:
                for h in svc.runs.sampled_history_columns(missing, key, max_results=points):
                    entry: dict[str, Any] = {"run_id": h.run_id, "steps": h.steps, "values": h.values}
                    if with_times:
                        entry["times"] = h.timestamps
                    body = msgspec.json.encode(entry)
                    parts[h.run_id] = body
                    fp = prints[h.run_id]
                    if fp is not None:
                        HISTORY_CACHE.put((store, h.run_id, key, points, with_times), fp, body)
            out[key] = [msgspec.Raw(parts[rid]) for rid in having if rid in parts]
    except ModelyardError as exc:
        return JSONResponse({"error": exc.message, "error_code": exc.error_code}, status_code=exc.status)
    return Response(msgspec.json.encode({"metrics": out}), media_type="application/json")

"""Pipeline pages: the runs list, a run's graph and timeline (server-rendered SVG), step logs, resume and re-run.

Resume and re-run start ``modelyard pipelines resume|run`` subprocesses on the
server's machine reporting to this server over HTTP, as the scheduler does. Tests
swap the launcher: ``app.state.pipeline_launcher = fake`` (called with the argv).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import InvalidParameterValue, ModelyardError
from ...service import TrackingService
from ...service.pipelines import EXECUTORS, STEP_STATUSES
from . import artifacts
from .render import _qs, done, inline_status, render, service

PAGE_SIZE = 50
RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
POLL_SECONDS = 2
WATCH_MS = 60_000  # how long a page polls after starting a run that has not shown up yet
LOG_FILES = ("stdout", "stderr")
_UPSTREAM = re.compile(r"^upstream step '(.+)' failed$")

# Graph and timeline geometry (SVG user units).
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 42, 56, 14, 12
LABEL_W, PLOT_W, ROW_H, AXIS_H = 190, 720, 22, 24
NICE_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
           600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000]


def now_ms() -> int:
    return int(time.time() * 1000)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def span(ms: float) -> str:
    """A short duration: ``120 ms``, ``1.5 s``, ``2m 30s``, ``1h 5m``."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.3g} s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60)}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60)}m"


def elapsed(start: int | None, end: int | None) -> str:
    """A run's duration (so far, while it runs)."""
    return "—" if start is None else span((end if end is not None else now_ms()) - start)


def _step_ms(step: dict[str, Any], now: int) -> int | None:
    if step["start_time"] is None:
        return None
    return (step["end_time"] if step["end_time"] is not None else now) - step["start_time"]


# ---- the executed graph ----------------------------------------------------------------


@dataclass
class Node:
    key: str
    run_id: str
    status: str
    x: float
    y: float
    label: str
    detail: str
    title: str


@dataclass
class Edge:
    path: str
    inferred: bool
    title: str


@dataclass
class Graph:
    width: float
    height: float
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    node_w: float = NODE_W
    node_h: float = NODE_H


def _links(steps: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[list[str], bool]]:
    """(from, to) → (input names, inferred): recorded edges, plus a skipped step's failed upstream (inputs unrecorded)."""
    links: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for e in edges:
        links.setdefault((e["from_task"], e["to_task"]), ([], False))[0].append(str(e["input"]))
    keys = {s["task_key"] for s in steps}
    has_inputs = {to for _, to in links}
    for s in steps:
        m = _UPSTREAM.match(s.get("error") or "")
        if s["status"] == "SKIPPED" and m and m.group(1) in keys and s["task_key"] not in has_inputs:
            links[(m.group(1), s["task_key"])] = ([], True)
    return links


def _layers(steps: list[dict[str, Any]], preds: dict[str, list[str]]) -> dict[str, int]:
    """Longest path from a source; steps are recorded in submission order, so one pass in position order suffices."""
    layer: dict[str, int] = {}
    for s in sorted(steps, key=lambda s: s["position"]):
        layer[s["task_key"]] = 1 + max((layer.get(p, 0) for p in preds.get(s["task_key"], [])), default=-1)
    return layer


def graph(steps: list[dict[str, Any]], edges: list[dict[str, Any]], now: int) -> Graph:
    links = _links(steps, edges)
    preds: dict[str, list[str]] = {}
    for src, dst in links:
        preds.setdefault(dst, []).append(src)
    layer = _layers(steps, preds)
    columns: dict[int, list[dict[str, Any]]] = {}
    for s in sorted(steps, key=lambda s: s["position"]):
        columns.setdefault(layer[s["task_key"]], []).append(s)
    rank: dict[str, int] = {}

    def barycenter(s: dict[str, Any]) -> tuple[float, int]:
        rows = [rank[p] for p in preds.get(s["task_key"], []) if p in rank]
        return (sum(rows) / len(rows) if rows else 0.0, s["position"])

    for col in sorted(columns):  # order each column by its predecessors' rows: fewer crossings
        columns[col].sort(key=barycenter)
        for i, s in enumerate(columns[col]):
            rank[s["task_key"]] = i
    tallest = max((len(c) for c in columns.values()), default=0)
    g = Graph(width=PAD * 2 + len(columns) * (NODE_W + GAP_X) - GAP_X if columns else 0,
              height=PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y if columns else 0)
    where: dict[str, tuple[float, float]] = {}
    for col, nodes in columns.items():
        top = PAD + (tallest - len(nodes)) * (NODE_H + GAP_Y) / 2
        for i, s in enumerate(nodes):
            x, y = PAD + col * (NODE_W + GAP_X), top + i * (NODE_H + GAP_Y)
            where[s["task_key"]] = (x, y)
            took = _step_ms(s, now)
            detail = "cache hit" if s["status"] == "CACHED" else s["status"].lower()
            if took is not None and s["status"] != "CACHED":
                detail += f" · {span(took)}"
            if s["attempts"] > 1:
                detail += f" · {s['attempts']} tries"
            title = f"{s['task_key']}: {s['status']}" + (f" — {s['error']}" if s.get("error") else "")
            g.nodes.append(Node(s["task_key"], s["run_id"], s["status"], x, y, _clip(s["task_key"], 22), detail, title))
    for (src, dst), (inputs, inferred) in links.items():
        if src not in where or dst not in where:
            continue
        (x1, y1), (x2, y2) = where[src], where[dst]
        x1, y1, x2, y2 = x1 + NODE_W, y1 + NODE_H / 2, x2 - 4, y2 + NODE_H / 2
        mid = (x1 + x2) / 2
        title = f"{src} → {dst}" + (f" ({', '.join(inputs)})" if inputs else " (not run: upstream failed)")
        g.edges.append(Edge(f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}", inferred, title))
    return g


# ---- the timeline (Gantt) ----------------------------------------------------------------


@dataclass
class Bar:
    key: str
    run_id: str
    status: str
    y: float
    x: float
    w: float
    label: str
    title: str
    ran: bool


@dataclass
class Timeline:
    width: float
    height: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    total: str = ""
    label_w: float = LABEL_W
    axis_h: float = AXIS_H


def timeline(run: dict[str, Any], steps: list[dict[str, Any]], now: int) -> Timeline:
    ran = [s for s in steps if s["start_time"] is not None]
    starts = [s["start_time"] for s in ran] + ([run["start_time"]] if run["start_time"] else [])
    t0 = min(starts, default=now)
    ends = [s["end_time"] if s["end_time"] is not None else now for s in ran]
    t1 = max([*ends, run["end_time"] or (now if run["status"] == "RUNNING" else t0), t0 + 1])
    scale = PLOT_W / (t1 - t0)
    order = sorted(steps, key=lambda s: (s["start_time"] is None, s["start_time"] or 0, s["position"]))
    tl = Timeline(width=LABEL_W + PLOT_W + 3 * PAD, height=AXIS_H + len(order) * ROW_H + PAD, total=span(t1 - t0))
    for i, s in enumerate(order):
        y = AXIS_H + i * ROW_H
        took = _step_ms(s, now)
        if took is None:
            tl.bars.append(Bar(s["task_key"], s["run_id"], s["status"], y, LABEL_W, 0, _clip(s["task_key"], 26),
                               f"{s['task_key']}: {s['status'].lower()}, not run", False))
            continue
        x = LABEL_W + (s["start_time"] - t0) * scale
        title = f"{s['task_key']}: {s['status'].lower()}, +{span(s['start_time'] - t0)}, took {span(took)}"
        tl.bars.append(Bar(s["task_key"], s["run_id"], s["status"], y, x, max(2.0, took * scale),
                           _clip(s["task_key"], 26), title, True))
    step = next((n for n in NICE_MS if n >= (t1 - t0) / 8), -(-(t1 - t0) // 8))
    tl.ticks = [(LABEL_W + t * scale, "0" if t == 0 else span(t)) for t in range(0, t1 - t0 + 1, step)]
    return tl


# ---- pages ---------------------------------------------------------------------------------


def _counts(steps: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(status, n) for status in STEP_STATUSES if (n := sum(1 for s in steps if s["status"] == status))]


def _watching(request: Request) -> str | None:
    """``started`` (resume or rerun) when this page follows a run started less than a minute ago."""
    qp = request.query_params
    try:
        recent = now_ms() - int(qp.get("at") or 0) < WATCH_MS
    except ValueError:
        recent = False
    started = qp.get("started")
    return started if started in ("resume", "rerun") and recent else None


def runs_page(request: Request) -> Response:
    svc = service(request)
    qp = request.query_params
    name, status = qp.get("pipeline", "").strip(), qp.get("status", "").strip().upper()
    params = {"pipeline": name, "status": status}
    rows: list[dict[str, Any]] = []
    next_token, error = None, None
    try:
        if status and status not in RUN_STATUSES:
            raise InvalidParameterValue(f"Unknown status {status!r}: use one of {', '.join(RUN_STATUSES)}.")
        found = svc.pipelines.list_runs(name or None, status or None, PAGE_SIZE, qp.get("page_token") or None)
        next_token = found.get("next_page_token")
        for r in found["pipeline_runs"]:
            steps = svc.pipelines.get_run(r["run_id"])["steps"]
            rows.append({**r, "counts": _counts(steps), "steps": len(steps),
                         "cache_hits": sum(1 for s in steps if s["status"] == "CACHED")})
    except ModelyardError as exc:
        error = exc.message
    watching = _watching(request)
    live = bool(watching) or any(r["status"] == "RUNNING" for r in rows)
    return render(request, "pipelines.html", status=inline_status(request) if error else 200, section="pipelines",
                  runs=rows, params=params, statuses=RUN_STATUSES, next_token=next_token, error=error,
                  live=live, poll=POLL_SECONDS, watching=watching, self_url="/pipelines" + _qs(dict(qp)),
                  elapsed=elapsed)


def _origin(svc: TrackingService, trigger: str | None) -> dict[str, Any]:
    """What started the run: ``manual``, ``schedule:NAME``, ``trigger:NAME`` or ``rerun:RUN_ID``."""
    kind, _, name = (trigger or "manual").partition(":")
    origin: dict[str, Any] = {"kind": kind, "name": name, "detail": None, "missing": False}
    try:
        if kind == "schedule":
            origin["detail"] = svc.pipelines.get_schedule(name)
        elif kind == "trigger":
            origin["detail"] = svc.pipelines.get_trigger(name)
    except ModelyardError:
        origin["missing"] = True
    return origin


def _logs(svc: TrackingService, steps: list[dict[str, Any]], key: str | None) -> dict[str, Any] | None:
    """The selected step's captured stdout and stderr (default: the first failed step)."""
    chosen = next((s for s in steps if s["task_key"] == key), None) if key else \
        next((s for s in steps if s["status"] == "FAILED"), None)
    if chosen is None:
        return {"error": f"No step {key!r} in this run."} if key else None
    out: dict[str, Any] = {"step": chosen, "files": [], "error": None}
    try:
        run = svc.runs.get(chosen["run_id"])
        repo = svc.artifacts.repository(run.info.artifact_uri)
        for name in LOG_FILES:
            path = f"logs/{name}.txt"
            out["files"].append((name, path, artifacts.preview(svc, run, path) if repo.is_file(path) else None))
    except ModelyardError as exc:
        out["error"] = exc.message
    return out


def run_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    svc = service(request)
    requested = request.path_params["run_id"]
    lineage = svc.pipelines.lineage(requested)
    run, steps = lineage["pipeline_run"], lineage["steps"]
    key = request.query_params.get("step") or None
    if run["run_id"] != requested:  # a step's run id: show its pipeline run, that step selected
        key = next((s["task_key"] for s in steps if s["run_id"] == requested), key)
        return RedirectResponse(f"/pipelines/runs/{run['run_id']}" + _qs({"step": key}) + "#logs", status_code=303)
    now = now_ms()
    tracked = svc.runs.get(run["run_id"])
    watching = _watching(request)
    return render(
        request, "pipeline_run.html", status=status, section="pipelines", run=run, steps=steps,
        by_key={s["task_key"]: s for s in steps}, edges=lineage["edges"], versions=lineage["model_versions"],
        graph=graph(steps, lineage["edges"], now), timeline=timeline(run, steps, now), counts=_counts(steps),
        origin=_origin(svc, run["trigger"]), logs=_logs(svc, steps, key), tracked=tracked,
        experiment=svc.experiments.get(tracked.info.experiment_id), error=error, watching=watching,
        live=run["status"] == "RUNNING" or bool(watching), poll=POLL_SECONDS, resumable=_resumable(run, steps),
        span=span, elapsed=elapsed, step_ms=lambda s: _step_ms(s, now),
        poll_url=f"/pipelines/runs/{run['run_id']}" + _qs({"step": key, "started": request.query_params.get("started"),
                                                           "at": request.query_params.get("at")}),
    )


# ---- resume and re-run ---------------------------------------------------------------------

_launched: dict[str, Any] = {}  # pipeline run id → the process resuming it (refuses a double click)
_lock = threading.Lock()


def _resumable(run: dict[str, Any], steps: list[dict[str, Any]]) -> str | None:
    """Why the run cannot be resumed, or None."""
    if run["status"] == "RUNNING":
        return (f"The run is running. If its process died, resume it from a shell: "
                f"modelyard pipelines resume {run['run_id']}")
    if not run["reference"]:
        return "The run has no pipeline reference to load the pipeline from."
    if run["status"] == "FINISHED" and all(s["status"] in ("FINISHED", "CACHED") for s in steps):
        return "Every step finished: nothing to resume. Re-run starts a new run."
    return None


def server_uri(request: Request) -> str:
    """This server, for the subprocesses to report to (as the scheduler's runs do)."""
    settings = service(request).settings
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"


def _popen(args: list[str]) -> Any:
    log = tempfile.NamedTemporaryFile(prefix="modelyard-pipeline-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()


def _launch(request: Request, args: list[str]) -> Any:
    launcher = getattr(request.app.state, "pipeline_launcher", None) or _popen
    return launcher(args)


def _cli(request: Request, *args: str) -> list[str]:
    return [sys.executable, "-m", "modelyard.cli", "pipelines", *args, "--quiet", "--tracking-uri", server_uri(request)]


def resume(request: Request, form: FormData) -> Response:
    """Start ``modelyard pipelines resume RUN_ID``: only failed and never-run steps run again."""
    svc = service(request)
    run_id = request.path_params["run_id"]
    run = svc.pipelines.get_run(run_id)
    problem = _resumable(run, run["steps"])
    with _lock:
        for rid, proc in list(_launched.items()):
            if getattr(proc, "poll", lambda: 0)() is not None:
                del _launched[rid]  # finished: reap it
        if problem is None and run_id in _launched:
            problem = f"A resume of this run is already starting (process {getattr(_launched[run_id], 'pid', '?')})."
        if problem is None:
            try:
                _launched[run_id] = _launch(request, _cli(request, "resume", run["run_id"]))
            except OSError as exc:
                problem = f"Could not start the resume: {exc}"
    if problem is not None:
        return run_page(request, error=problem, status=inline_status(request))
    return done(request, f"/pipelines/runs/{run_id}" + _qs({"started": "resume", "at": now_ms()}))


def rerun(request: Request, form: FormData) -> Response:
    """Start a new run of the same pipeline with the same parameters, in the same experiment."""
    svc = service(request)
    run = svc.pipelines.get_run(request.path_params["run_id"])
    if not run["reference"]:
        return run_page(request, error="The run has no pipeline reference to load the pipeline from.",
                        status=inline_status(request))
    experiment = svc.experiments.get(svc.runs.get(run["run_id"]).info.experiment_id).name
    args = _cli(request, "run", run["reference"], "--params-json", json.dumps(run["params"]),
                "--trigger", f"rerun:{run['run_id']}", "--experiment", experiment)
    if run["executor"] in EXECUTORS:
        args += ["--executor", run["executor"]]
    try:
        _launch(request, args)
    except OSError as exc:
        return run_page(request, error=f"Could not start the re-run: {exc}", status=inline_status(request))
    return done(request, "/pipelines" + _qs({"pipeline": run["pipeline"], "started": "rerun", "at": now_ms()}))

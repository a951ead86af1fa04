"""Pipeline pages: the runs list, a run's graph and timeline (server-rendered SVG), step logs, resume and re-run.

Resume and re-run start ``modelyard pipelines resume|run`` subprocesses on the
server's machine reporting to this server over HTTP, as the scheduler does, and
only for a pipeline registered on the server (loaded from the ``module:attr`` its
operator registered, never from the reference a run recorded). With ``--auth`` the
process gets a token of the signed-in caller (made for it, expiring after a day), so it
can do what they can and no more. Tests swap the launcher:
``app.state.pipeline_launcher = fake`` (called with the argv, and with --auth the
environment of credentials too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import InvalidParameterValue, ModelyardError
from ...service import TrackingService
from ...service.pipeline_registry import HOW_TO_REGISTER
from ...service.pipelines import EXECUTORS, STEP_STATUSES
from ..auth import principal_of, readable
from . import artifacts
from .links import carried, with_workspace
from .pipeline_layout import elapsed, graph, now_ms, span, step_ms, timeline
from .render import _qs, done, inline_status, render, service

PAGE_SIZE = 50
RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
POLL_SECONDS = 2
WATCH_MS = 60_000  # how long a page polls after starting a run that has not shown up yet
LOG_FILES = ("traceback", "stdout", "stderr")  # logs/<name>.txt of a step's run (the engine writes them)

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
        allowed = readable(request, "run", [r["run_id"] for r in found["pipeline_runs"]])
        for r in found["pipeline_runs"]:
            if r["run_id"] not in allowed:
                continue
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
        return RedirectResponse(with_workspace(f"/pipelines/runs/{run['run_id']}" + _qs({"step": key}) + "#logs",
                                               carried(request)), status_code=303)
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
        span=span, elapsed=elapsed, step_ms=lambda s: step_ms(s, now),
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
    if run["status"] == "FINISHED" and all(s["status"] in ("FINISHED", "CACHED") for s in steps):
        return "Every step finished: nothing to resume. Re-run starts a new run."
    return None


def _registered(svc: TrackingService, run: dict[str, Any], verb: str) -> tuple[str | None, str | None]:
    """(the ``module:attr`` the operator registered for the run's pipeline, None) or (None, why not).

    The server runs only registered pipelines: never the reference a run recorded,
    which whoever recorded the run chose.
    """
    found = svc.pipelines.registry.get(run["pipeline"])
    if found is not None:
        return found.reference, None
    return None, (f"Pipeline {run['pipeline']!r} is not registered on this server, so the server will not {verb} it."
                  f" {HOW_TO_REGISTER} Or {verb} it from a shell: modelyard pipelines "
                  + (f"resume {run['run_id']}" if verb == "resume" else "run FILE.py:NAME"))


def server_uri(request: Request) -> str:
    """This server, for the subprocesses to report to (as the scheduler's runs do)."""
    settings = service(request).settings
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"


def _popen(args: list[str], env: dict[str, str] | None = None) -> Any:
    log = tempfile.NamedTemporaryFile(prefix="modelyard-pipeline-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=None if env is None else {**_without_credentials(os.environ), **env})
    finally:
        log.close()


_CREDENTIALS = tuple(f"{prefix}_TRACKING_{name}" for prefix in ("MODELYARD", "MLFLOW")
                     for name in ("USERNAME", "PASSWORD", "TOKEN"))
TOKEN_DAYS = 1.0  # how long the token of a run started from the UI works


def _without_credentials(env: Any) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _CREDENTIALS}


def _credentials(request: Request, what: str) -> dict[str, str] | None:
    """With --auth: a token of the signed-in caller for the run's process, so it acts as them and no more.

    Made for this launch, expiring after :data:`TOKEN_DAYS` (listed with the caller's tokens, in the
    audit trail). None when the server does not authenticate.
    """
    principal = principal_of(request)
    if principal is None:
        return None
    secret, _ = service(request).auth.create_token(principal.username, what, TOKEN_DAYS)
    return {"MODELYARD_TRACKING_TOKEN": secret}


def _launch(request: Request, args: list[str], what: str) -> Any:
    """Start ``args`` with the launcher (``app.state.pipeline_launcher(args)``, or ``(args, env)`` with --auth)."""
    launcher = getattr(request.app.state, "pipeline_launcher", None) or _popen
    env = _credentials(request, what)
    return launcher(args) if env is None else launcher(args, env)


def _cli(request: Request, *args: str) -> list[str]:
    return [sys.executable, "-m", "modelyard.cli", "pipelines", *args, "--quiet", "--server-launched",
            "--tracking-uri", server_uri(request)]


def resume(request: Request, form: FormData) -> Response:
    """Start ``modelyard pipelines resume RUN_ID``: only failed and never-run steps run again."""
    svc = service(request)
    run_id = request.path_params["run_id"]
    run = svc.pipelines.get_run(run_id)
    problem = _resumable(run, run["steps"])
    reference = None
    if problem is None:
        reference, problem = _registered(svc, run, "resume")
    with _lock:
        for rid, proc in list(_launched.items()):
            if getattr(proc, "poll", lambda: 0)() is not None:
                del _launched[rid]  # finished: reap it
        if problem is None and run_id in _launched:
            problem = f"A resume of this run is already starting (process {getattr(_launched[run_id], 'pid', '?')})."
        if problem is None:
            try:
                _launched[run_id] = _launch(request, _cli(request, "resume", run["run_id"], "--reference", str(reference)),
                                            f"pipeline resume {run_id}")
            except OSError as exc:
                problem = f"Could not start the resume: {exc}"
    if problem is not None:
        return run_page(request, error=problem, status=inline_status(request))
    return done(request, f"/pipelines/runs/{run_id}" + _qs({"started": "resume", "at": now_ms()}))


def rerun(request: Request, form: FormData) -> Response:
    """Start a new run of the same pipeline with the same parameters, in the same experiment."""
    svc = service(request)
    run = svc.pipelines.get_run(request.path_params["run_id"])
    reference, problem = _registered(svc, run, "re-run")
    if reference is None:
        return run_page(request, error=problem, status=inline_status(request))
    experiment = svc.experiments.get(svc.runs.get(run["run_id"]).info.experiment_id).name
    args = _cli(request, "run", reference, "--params-json", json.dumps(run["params"]),
                "--trigger", f"rerun:{run['run_id']}", "--experiment", experiment)
    if run["executor"] in EXECUTORS:
        args += ["--executor", run["executor"]]
    try:
        _launch(request, args, f"pipeline re-run of {run['run_id']}")
    except OSError as exc:
        return run_page(request, error=f"Could not start the re-run: {exc}", status=inline_status(request))
    return done(request, "/pipelines" + _qs({"pipeline": run["pipeline"], "started": "rerun", "at": now_ms()}))

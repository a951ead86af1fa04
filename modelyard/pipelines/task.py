"""Running one attempt of a step: in this process (inline) or in a worker (process pool, Ray).

``invoke`` runs the function with its output captured and the step's run active
for the fluent API (``my.log_metric`` inside a step logs to the step's run: the
run is created on first use). ``execute`` is the worker side: it loads input
references, invokes, stores the output and logs, and returns a plain dict.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..client import fluent
from ..client.uri import get_tracking_uri, set_tracking_uri
from ..entities import Run, RunInfo
from . import capture, materialize

REF_MARK = "__modelyard_ref__"
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def client_for(uri: str) -> Any:
    """One Client per tracking URI in this process."""
    from ..client import Client

    with _clients_lock:
        found = _clients.get(uri)
        if found is None:
            found = _clients[uri] = Client(uri)
        return found


def repo_for(uri: str) -> Callable[[str], Any]:
    client = client_for(uri)
    return lambda artifact_uri: client._t.artifact_repository(artifact_uri)


class StepRun(fluent.ActiveRun):
    """The step's run as the fluent API's active run; created in the store on first use."""

    def __init__(self, info: RunInfo, ensure: Callable[[], None]) -> None:
        super().__init__(Run(info), None, None)  # type: ignore[arg-type]
        self._ensure = ensure
        self.touched = False

    @property
    def info(self) -> RunInfo:
        if not self.touched:
            self.touched = True
            self._ensure()
        return self._run.info


def invoke(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], active: StepRun | None
) -> tuple[Any, str, str, BaseException | None, str]:
    """(return value, stdout, stderr, exception or None, its traceback) of one call."""
    value, error, trace = None, None, ""
    with fluent.activated(active) if active is not None else contextlib.nullcontext():
        with capture.capture() as (out, err):
            try:
                value = fn(*args, **kwargs)
            except Exception as exc:
                error, trace = exc, traceback.format_exc()
    if active is not None and active.touched:
        fluent.flush()
    return value, "".join(out), "".join(err), error, trace


def write_logs(repo: Any, stdout: str, stderr: str) -> list[str]:
    written = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if text:
            repo.put(f"logs/{name}.txt", io.BytesIO(text.encode("utf-8", "replace")))
            written.append(f"logs/{name}.txt")
    return written


def _resolve(value: Any, load: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(value, dict):
        if REF_MARK in value and len(value) == 1:
            return load(value[REF_MARK])
        return {k: _resolve(v, load) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, load) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, load) for v in value)
    return value


_worker_state: dict[str, Any] = {"sys_path": None, "fns": {}}
MAX_LOADED_FNS = 64


def _function(spec: dict[str, Any]) -> Any:
    """The step function of ``spec``, unpickled once per pipeline run and step in this worker."""
    import cloudpickle

    fn_id = spec.get("fn_id")
    fns: dict[str, tuple[bytes, Any]] = _worker_state["fns"]
    found = fns.get(fn_id) if fn_id else None
    if found is not None and found[0] == spec["fn"]:
        return found[1]
    fn = cloudpickle.loads(spec["fn"])
    if fn_id:
        if len(fns) >= MAX_LOADED_FNS:
            fns.clear()
        fns[fn_id] = (spec["fn"], fn)
    return fn


def _unpickled(value: Any) -> Any:
    if isinstance(value, bytes):
        import cloudpickle

        return cloudpickle.loads(value)
    return value  # built-in data sent as is


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one attempt described by ``spec`` (worker side); never raises."""
    started = time.time()
    try:
        paths = spec.get("sys_path") or []
        if paths != _worker_state["sys_path"]:
            for path in paths:
                if path not in sys.path:
                    sys.path.append(path)
            _worker_state["sys_path"] = paths
        uri = spec["tracking_uri"]
        if get_tracking_uri() != uri:
            set_tracking_uri(uri)
        client = client_for(uri)
        repos = repo_for(uri)
        fn = _function(spec)
        args = _resolve(_unpickled(spec["args"]), lambda ref: materialize.load(ref, repos))
        kwargs = _resolve(_unpickled(spec["kwargs"]), lambda ref: materialize.load(ref, repos))
        info = RunInfo(spec["run_id"], str(spec["experiment_id"]), spec["task_key"], "", "RUNNING",
                       int(started * 1000), None, spec["artifact_uri"])
        active = StepRun(info, lambda: client.record_pipeline({"steps": [spec["start_record"]]}))
        value, out, err, error, trace = invoke(fn, tuple(args), kwargs, active)
        logs = write_logs(repos(spec["artifact_uri"]), out, err) if (out or err) else []
        if error is not None:
            return {"ok": False, "error": f"{type(error).__name__}: {error}", "traceback": trace, "logs": logs}
        ref = materialize.save(value, spec["artifact_uri"], repos)
        result: dict[str, Any] = {"ok": True, "output": ref, "logs": logs, "touched": active.touched}
        if "value" not in ref and spec.get("return_value"):
            import cloudpickle

            result["value"] = cloudpickle.dumps(value)
        return result
    except BaseException as exc:  # reported to the driver
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}

"""Executors by name, resolved lazily (importing one never imports Ray).

An executor has ``name``, ``in_process`` (values handed over in memory),
``concurrency``, ``prepare(tracking_uri)`` (checked before the run starts) and
``attempt(ctx, task, bound) -> (output ref, value or NOT_LOADED)``, which raises on
failure (``StepTimeout`` when the step overran its timeout).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ...errors import InvalidParameterValue

EXECUTORS: dict[str, str] = {
    "inline": "modelyard.pipelines.executors.inline:InlineExecutor",
    "process": "modelyard.pipelines.executors.process:ProcessExecutor",
    "ray": "modelyard.pipelines.executors.ray:RayExecutor",
}
DEFAULT = "process"


def get_executor(name: str | Any | None = None, **options: Any) -> Any:
    """An executor instance: by name (``inline``, ``process``, ``ray``), or an instance as is."""
    if name is not None and not isinstance(name, str):
        return name
    path = EXECUTORS.get(name or DEFAULT)
    if path is None:
        raise InvalidParameterValue(f"Unknown executor {name!r}: choose one of {', '.join(EXECUTORS)}.")
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)(**{k: v for k, v in options.items() if v is not None})


_PLAIN = (str, int, float, bool, bytes, type(None))


def is_plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is built-in data only (pickle carries it as is; no cloudpickle needed)."""
    if type(value) in _PLAIN:
        return True
    if depth > 20:
        return False
    if type(value) in (list, tuple):
        return all(is_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    return False


def build_spec(ctx: Any, task: Any, bound: Any) -> dict[str, Any]:
    """What a worker needs to run one attempt (plain, picklable).

    The function is pickled once per step and pipeline run (``fn_id`` lets a worker keep
    it loaded); arguments of built-in types travel as they are, anything else by cloudpickle.
    """
    import cloudpickle

    fns = ctx.__dict__.setdefault("_pickled_fns", {})
    fn = fns.get(task.step.name)
    if fn is None:
        fn = fns[task.step.name] = cloudpickle.dumps(task.step.fn)
    args = list(ctx.resolve(bound.args, as_refs=True))
    kwargs = ctx.resolve(dict(bound.kwargs), as_refs=True)
    plain = is_plain(args) and is_plain(kwargs)
    return {
        "fn": fn,
        "fn_id": f"{ctx.run_id}:{task.step.name}",
        "args": args if plain else cloudpickle.dumps(args),
        "kwargs": kwargs if plain else cloudpickle.dumps(kwargs),
        "tracking_uri": ctx.tracking_uri,
        "run_id": task.run_id,
        "experiment_id": ctx.experiment_id,
        "task_key": task.key,
        "artifact_uri": ctx.step_artifact_uri(task),
        "start_record": ctx._record(task),
        "sys_path": ctx.__dict__.setdefault("_sys_path", list(sys.path)),
    }


def outcome(result: dict[str, Any], task: Any) -> tuple[dict[str, Any], Any]:
    """A worker's result as ``(ref, NOT_LOADED)``; raises its error."""
    from ..engine import NOT_LOADED
    from ..errors import StepFailed

    if not result.get("ok"):
        raise StepFailed(result.get("error") or "step failed", task.key, task.run_id, result.get("traceback") or "")
    ref = result["output"]
    if ref.get("kind") == "pickle":
        import warnings

        from ..materialize import PickledOutputWarning

        warnings.warn(f"Output of step {task.key!r} ({ref.get('type')}) was stored with pickle.", PickledOutputWarning,
                      stacklevel=2)
    return ref, NOT_LOADED

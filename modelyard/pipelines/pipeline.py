"""``@pipeline``: a plain function whose step calls form the graph, run as a tracked run.

>>> @my.pipeline
... def train(epochs: int = 3):
...     data = load()
...     models = fit.map([0.1, 0.01], data=data, epochs=epochs)
...     return pick(models)
>>> result = train.run({"epochs": 5}, executor="inline")
>>> result.run_id, result.status, result.output
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterValue
from .errors import PipelineCheckError, Problem
from .params import coerce


@dataclass
class PipelineRun:
    """The outcome of running a pipeline: its run id, status, output and tasks."""

    run_id: str
    pipeline: str
    status: str
    output: Any = None
    tasks: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def failed(self) -> list[str]:
        return [k for k, t in self.tasks.items() if t.status in ("FAILED", "SKIPPED")]

    def status_of(self, task_key: str) -> str:
        return str(self.tasks[task_key].status)


class Pipeline:
    """A pipeline: its function, typed parameters and default run options."""

    _is_pipeline_object = True
    _is_registrable_pipeline = True  # what the server's registry looks for in MODELYARD_PIPELINE_MODULES

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        executor: str | None = None,
        max_workers: int | None = None,
        experiment: str | None = None,
        cache: bool = True,
        on_failure: Callable[..., Any] | Iterable[Callable[..., Any]] | None = None,
        on_step_failure: Callable[..., Any] | Iterable[Callable[..., Any]] | None = None,
    ) -> None:
        import inspect

        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.executor = executor
        self.max_workers = max_workers
        self.experiment = experiment
        self.cache = cache
        self.on_failure = _hooks(on_failure)
        self.on_step_failure = _hooks(on_step_failure)
        self.signature = inspect.signature(fn)
        try:
            self.hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - unresolvable hints (a forward reference): take them as written
            self.hints = dict(getattr(fn, "__annotations__", {}))
        self.location = (fn.__code__.co_filename, _def_line(fn))

    @property
    def reference(self) -> str:
        """How to load this pipeline again: ``file.py:name`` or ``module:name``."""
        module = sys.modules.get(self.fn.__module__)
        source_file = getattr(module, "__modelyard_file__", None)
        if source_file is None and self.fn.__module__ == "__main__":
            source_file = os.path.abspath(getattr(module, "__file__", "") or "")
        qual = self.fn.__qualname__
        return f"{source_file}:{qual}" if source_file else f"{self.fn.__module__}:{qual}"

    def __call__(self, **params: Any) -> PipelineRun:
        return self.run(params)

    def check(self, params: dict[str, Any] | None = None, *, from_cli: bool = False) -> dict[str, Any]:
        """Validate ``params`` (and the pipeline's source) without running; the typed parameters."""
        from .checks import run_checks

        given = dict(params or {})
        problems = []
        if from_cli:
            for key, value in list(given.items()):
                if key in self.hints and isinstance(value, str):
                    try:
                        given[key] = coerce(value, self.hints[key], from_cli=True)
                    except TypeError as exc:
                        problems.append(Problem(*self.location, "parameter-type", f"parameter {key!r} {exc}"))
        try:
            run_checks(self, given)
        except PipelineCheckError as exc:
            problems += [p for p in exc.problems if str(p) not in {str(q) for q in problems}]
        if problems:
            raise PipelineCheckError(problems)
        typed = {}
        for key, p in self.signature.parameters.items():
            if key in given:
                typed[key] = coerce(given[key], self.hints[key]) if key in self.hints else given[key]
            elif p.default is not p.empty:
                typed[key] = p.default
        for key, value in given.items():
            typed.setdefault(key, value)  # **kwargs pipelines
        return typed

    def run(self, params: dict[str, Any] | None = None, **options: Any) -> PipelineRun:
        """Run with ``params``. Options: ``executor`` (inline, process, ray), ``max_workers``,
        ``ray_address``, ``tracking_uri``, ``experiment``, ``cache``, ``progress``, ``raise_on_failure``
        (default True: a failed run raises PipelineFailed), ``from_cli`` (parse string params).
        """
        from .runner import run_pipeline

        return run_pipeline(self, params or {}, **options)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name}>"


def _def_line(fn: Callable[..., Any]) -> int:
    """The line of ``def`` (``co_firstlineno`` is the first decorator's)."""
    import inspect

    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return int(fn.__code__.co_firstlineno)
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ")):
            return start + i
    return start


def _hooks(value: Any) -> list[Callable[..., Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, Iterable) else [value]


def pipeline(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a pipeline (``@pipeline`` or ``@pipeline(executor="inline", name=...)``).

    Options: ``name``, ``executor`` (default ``process``), ``max_workers``, ``experiment``,
    ``cache``, ``on_failure`` (hooks called with the PipelineFailed error), ``on_step_failure``.
    """
    if fn is not None:
        return Pipeline(fn)
    return lambda f: Pipeline(f, **options)


def load_pipeline(reference: str, *, allow_files: bool = True) -> Pipeline:
    """The pipeline at ``path/to/file.py:name`` or ``package.module:name``.

    A file is loaded afresh each time (an edited file is picked up) and its
    functions are shipped to workers by value. ``allow_files=False`` (runs the
    server launches, from the module its operator registered) refuses a file.
    """
    target, sep, attr = reference.rpartition(":")
    if not sep or not target or not attr:
        raise InvalidParameterValue(f"Invalid pipeline reference {reference!r}: use 'file.py:name' or 'module:name'.")
    if target.endswith(".py") or os.sep in target or "/" in target:
        if not allow_files:
            raise InvalidParameterValue("A run the server launches loads a registered module:name, never a file.")
        path = os.path.abspath(target)
        if not os.path.exists(path):
            raise InvalidParameterValue(f"Pipeline file {path} does not exist.")
        name = "modelyard_pipeline_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.__modelyard_file__ = path  # type: ignore[attr-defined]
        sys.modules[name] = module
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec.loader.exec_module(module)
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    else:
        module = importlib.import_module(target)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InvalidParameterValue(f"{target} has no pipeline {attr!r}.")
    if not isinstance(obj, Pipeline):
        raise InvalidParameterValue(f"{reference} is a {type(obj).__name__}, not a @pipeline.")
    return obj

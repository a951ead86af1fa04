"""A running pipeline: submitted steps, their dependencies, cache, retries, recording.

``RunContext`` is what ``step(...)`` calls talk to while a pipeline function runs.
Each step call becomes a *task* with a stable task key (``train``, ``train#2``,
``score[3]``); a task runs when its input handles are done, on the executor, and
is recorded as a nested run. Values stay in memory where the executor shares
this process (zero-copy hand-over) and are always stored through materializers.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import linecache
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from . import materialize
from .errors import PipelineCheckError, Problem, StepFailed, StepTimeout, UpstreamFailed
from .fingerprint import code_hash, value_hash
from .recorder import Recorder, param_text
from .step import Handle, Step, caller_location, find_handles

NOT_LOADED = object()
PARENT_TAG = "mlflow.parentRunId"
TRACEBACK_LOG = "logs/traceback.txt"
_KEY_JSON = json.JSONEncoder(sort_keys=True)  # as json.dumps(..., sort_keys=True), built once


@dataclass
class StepFailure:
    """What a failure hook receives."""

    task_key: str
    step: str
    run_id: str
    error: BaseException
    attempts: int
    traceback: str = ""


@dataclass
class Task:
    key: str
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    handle: Handle
    deps: list[Handle]
    position: int
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "PENDING"
    attempts: int = 0
    start_time: int | None = None
    end_time: int | None = None
    cached_from: str | None = None
    error: str | None = None
    traceback: str = ""  # of the failure, file and line each (what the CLI prints)
    params: dict[str, str] = field(default_factory=dict)  # recorded text of the non-handle arguments
    inputs: list[dict[str, Any]] = field(default_factory=list)  # the handles it was given
    cache_key: str | None = None
    bound: Any = None  # the bound arguments, once prepared (see RunContext._prepare)


def _with_source_file(trace: str, fn: Callable[..., Any]) -> str:
    """``trace`` naming the step's file where a worker's copy of the code said ``<dynamic-code>``.

    A pipeline loaded from a file reaches a worker process by value (cloudpickle), which
    drops the file name of the code but keeps its line numbers.
    """
    trace = _INVOKE_FRAME.sub("", trace)  # our own call of the step is no news to its author
    if _DYNAMIC not in trace:
        return trace
    try:
        path = inspect.getsourcefile(inspect.unwrap(fn))
    except TypeError:
        return trace
    if not path:
        return trace
    lines = []
    for line in trace.splitlines():
        frame = _DYNAMIC_FRAME.fullmatch(line)
        if frame is None:
            lines.append(line)
            continue
        lines.append(line.replace(_DYNAMIC, f'File "{path}"'))
        source = linecache.getline(path, int(frame.group(1))).strip()  # the worker had none to quote
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines) + "\n"


_DYNAMIC = 'File "<dynamic-code>"'
_DYNAMIC_FRAME = re.compile(r'  File "<dynamic-code>", line (\d+), in .+')
_INVOKE_FRAME = re.compile(r'  File "[^"\n]*modelyard[/\\]pipelines[/\\]task\.py", line \d+, in invoke\n(?:    .*\n)*')


def now_ms() -> int:
    return int(time.time() * 1000)


class RunContext:
    def __init__(
        self, *, pipeline: Any, client: Any, executor: Any, run_id: str, experiment_id: str, artifact_root: str,
        tracking_uri: str, use_cache: bool = True, reuse: dict[str, dict[str, Any]] | None = None,
        progress: Callable[[str, Task], None] | None = None, user_id: str = "", reuse_code_outputs: bool = True,
    ) -> None:
        self.pipeline = pipeline
        self.client = client
        self.executor = executor
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.artifact_root = artifact_root  # the experiment's artifact location
        self.tracking_uri = tracking_uri
        self.use_cache = use_cache
        self.reuse = reuse or {}
        # False in runs the server launches: a stored output that runs code when loaded (pickle, model) may have
        # been recorded by anyone who can reach the server, so such a cache entry or resumed output is not used
        self.reuse_code_outputs = reuse_code_outputs
        self.progress = progress
        self.user_id = user_id
        self.tasks: dict[str, Task] = {}
        self._tags = {PARENT_TAG: run_id, "mlflow.user": user_id, "modelyard.pipeline": pipeline.name}
        self._counters: dict[str, int] = {}
        self._values: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._code_memo: dict[int, str] = {}
        self.recorder = Recorder(client)
        self.cache_keys: set[str] = client.get_pipeline_cache_keys(pipeline.name) if use_cache else set()
        self._pool: ThreadPoolExecutor | None = None
        if not executor.in_process:
            self._pool = ThreadPoolExecutor(executor.concurrency, thread_name_prefix="modelyard-step")
        self._repos: dict[str, Any] = {}
        self._prefetched: dict[str, dict[str, Any] | None] = {}  # cache key -> entry (None: not cached), by a map

    # ---- submission ---------------------------------------------------------------

    def _key(self, name: str) -> str:
        n = self._counters.get(name, 0) + 1
        self._counters[name] = n
        return name if n == 1 else f"{name}#{n}"

    def submit(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], key: str | None = None) -> Handle:
        task = self._new_task(step, args, kwargs, key, 4)
        self._start(task)
        return task.handle

    def submit_map(self, step: Step, items: list[Any], kwargs: dict[str, Any]) -> list[Handle]:
        """One task per item; the cache entries of those ready to run are looked up at once, then they start."""
        with self._lock:
            base = self._key(step.name)
        tasks = [self._new_task(step, (item,), kwargs, f"{base}[{i}]", 4) for i, item in enumerate(items)]
        self._prefetch(tasks)
        for task in tasks:
            self._start(task)
        return [task.handle for task in tasks]

    def _new_task(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], key: str | None, depth: int) -> Task:
        deps = find_handles(list(args) + list(kwargs.values()))
        for dep in deps:
            if dep.context is not self:
                file, line = caller_location(depth)
                raise PipelineCheckError([Problem(file, line, "handle-outside-pipeline",
                    f"step {step.name!r} is given the handle of {dep.task_key!r}, which belongs to another pipeline run")])
        with self._lock:
            key = key or self._key(step.name)
            handle = Handle(key, step.name, self)
            task = Task(key, step, args, kwargs, handle, deps, len(self.tasks))
            self.tasks[key] = task
        self._notify("submitted", task)
        return task

    def _start(self, task: Task) -> None:
        if self._pool is None:
            self._run_task(task)
        else:
            self._when_ready(task)

    def _prefetch(self, tasks: list[Task]) -> None:
        """Look up at once the cache entries of those ``tasks`` that could be cache hits now (upstream done).

        A task whose inputs are not all ready yet, or that cannot be prepared, is
        left to its own lookup when it runs.
        """
        if not (self.use_cache and self.cache_keys):
            return
        keys = []
        for task in tasks:
            if not task.step.cache or task.key in self.reuse:
                continue
            if any(not d.future.done() or d.future.exception() is not None for d in task.deps):
                continue
            try:
                key = self._prepare(task)
            except Exception:  # noqa: BLE001, S112 - bad arguments: the task fails when it runs, as it would have
                continue
            if key in self.cache_keys and key not in self._prefetched:
                keys.append(key)
        if len(keys) < 2:
            return
        found = self.client.get_pipeline_cache_entries(keys)
        with self._lock:
            for key in keys:
                self._prefetched[key] = found.get(key)

    def _prepare(self, task: Task) -> str:
        """Bind ``task``'s arguments and compute its params, inputs and cache key (once; its upstream must be done)."""
        if task.bound is not None:
            assert task.cache_key is not None
            return task.cache_key
        step = task.step
        bound = step.signature.bind(*task.args, **task.kwargs)
        params: dict[str, str] = {}
        inputs: list[dict[str, Any]] = []
        input_hashes: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            handles = find_handles(value)
            if handles:
                for h in handles:
                    inputs.append({"name": name, "task_key": h.task_key, "hash": (h.ref or {}).get("hash"),
                                   "kind": (h.ref or {}).get("kind")})
                input_hashes[name] = value_hash(_shape_hash(value))
            else:
                params[name] = param_text(value)
                input_hashes[name] = value_hash(value)
        task.cache_key = hashlib.sha256(_KEY_JSON.encode(
            [step.name, code_hash(step.fn, self._code_memo), step.version, input_hashes]
        ).encode()).hexdigest()
        task.params.update(params)
        task.inputs.extend(inputs)
        task.bound = bound
        return task.cache_key

    def _cache_entry(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of ``cache_key``: looked up already by a map, or now."""
        with self._lock:
            if cache_key in self._prefetched:
                return self._prefetched[cache_key]
        return cast("dict[str, Any] | None", self.client.get_pipeline_cache_entry(cache_key))

    def _may_load(self, ref: Any) -> bool:
        """Whether a stored output (a cache entry's, a resumed step's) may be used: with ``reuse_code_outputs``
        off, only those whose loading runs no code (not ``pickle`` nor ``model``)."""
        return self.reuse_code_outputs or (isinstance(ref, dict) and ref.get("kind") not in materialize.CODE_KINDS)

    def _when_ready(self, task: Task) -> None:
        pending = [d for d in task.deps if not d.future.done()]
        if not pending:
            assert self._pool is not None
            self._pool.submit(self._run_task, task)
            return
        remaining = [len(pending)]
        lock = threading.Lock()

        def one_done(_: Any) -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                assert self._pool is not None
                self._pool.submit(self._run_task, task)

        for dep in pending:
            dep.future.add_done_callback(one_done)

    # ---- values -------------------------------------------------------------------

    def value_of(self, handle: Handle, timeout: float | None = None) -> Any:
        value = handle.future.result(timeout)
        if value is NOT_LOADED:
            with self._lock:
                if handle.task_key not in self._values:
                    assert handle.ref is not None
                    self._values[handle.task_key] = materialize.load(handle.ref, self.repo)
                return self._values[handle.task_key]
        return value

    def repo(self, artifact_uri: str) -> Any:
        found = self._repos.get(artifact_uri)
        if found is None:
            found = self._repos[artifact_uri] = self.client._t.artifact_repository(artifact_uri)
        return found

    def resolve(self, value: Any, as_refs: bool = False) -> Any:
        """``value`` with handles replaced by their values (or ``{REF_MARK: ref}``)."""
        if isinstance(value, Handle):
            if as_refs:
                from .task import REF_MARK

                value.future.result()
                return {REF_MARK: value.ref}
            return self.value_of(value)
        if isinstance(value, list):
            return [self.resolve(v, as_refs) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v, as_refs) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v, as_refs) for k, v in value.items()}
        return value

    def step_artifact_uri(self, task: Task) -> str:
        return f"{self.artifact_root}/{task.run_id}/artifacts"

    # ---- running a task -------------------------------------------------------------

    def _run_task(self, task: Task) -> None:
        try:
            self._run_task_inner(task)
        except BaseException as exc:  # noqa: BLE001 - an engine error: fail the task, never hang the pipeline
            if not task.handle.future.done():
                self._fail(task, exc, "")

    def _run_task_inner(self, task: Task) -> None:
        failed = [d for d in task.deps if d.future.exception() is not None]
        if failed:
            task.status = "SKIPPED"
            task.error = f"upstream step {failed[0].task_key!r} failed"
            self.recorder.step(self._record(task))
            self._notify("skipped", task)
            task.handle.future.set_exception(UpstreamFailed(task.error, task.key, task.run_id))
            return
        step = task.step
        try:
            cache_key = self._prepare(task)
        except TypeError as exc:
            if task.bound is not None:
                raise
            self._fail(task, StepFailed(f"{step.name}: {exc}", task.key, task.run_id), "")
            return
        bound = task.bound
        prev = self.reuse.get(task.key)
        if (prev is not None and prev["status"] in ("FINISHED", "CACHED") and prev.get("output") is not None
                and self._may_load(prev["output"])):
            task.run_id, task.status = prev["run_id"], "REUSED"
            task.handle.ref = prev["output"]
            self._notify("reused", task)
            task.handle.future.set_result(NOT_LOADED)
            return
        if step.cache and self.use_cache and cache_key in self.cache_keys:
            entry = self._cache_entry(cache_key)
            if entry is not None and self._may_load(entry["output"]):
                task.status, task.cached_from = "CACHED", entry["run_id"]
                task.start_time = task.end_time = now_ms()
                task.handle.ref = entry["output"]
                self.recorder.cache_hit(cache_key)
                self.recorder.step(self._record(task, entry["output"]))
                self._notify("cached", task)
                task.handle.future.set_result(NOT_LOADED)
                return
        task.status, task.start_time = "RUNNING", now_ms()
        self.recorder.step(self._record(task))
        self._notify("started", task)
        error: BaseException | None = None
        trace = ""
        while True:
            task.attempts += 1
            try:
                ref, value = self.executor.attempt(self, task, bound)
                break
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                error, trace = exc, getattr(exc, "traceback", "")
                if task.attempts > step.retries:
                    self._fail(task, error, trace)
                    return
                self._notify("retrying", task)
                time.sleep(backoff_delay(step, task.attempts))
        task.status, task.end_time = "FINISHED", now_ms()
        task.handle.ref = ref
        self.recorder.step(self._record(task, ref))
        if step.cache and self.use_cache:
            self.recorder.cache_entry({"cache_key": cache_key, "pipeline": self.pipeline.name, "step": step.name,
                                       "run_uuid": task.run_id, "output": ref})
        self._notify("finished", task)
        task.handle.future.set_result(value)

    def _fail(self, task: Task, error: BaseException, trace: str) -> None:
        task.status, task.end_time = "FAILED", now_ms()
        task.start_time = task.start_time or task.end_time
        task.error = f"timeout: {error}" if isinstance(error, StepTimeout) else (
            str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}")
        task.traceback = trace = _with_source_file(trace, task.step.fn)
        self._keep_traceback(task, trace)
        self.recorder.step(self._record(task))
        self._notify("failed", task)
        failure = StepFailure(task.key, task.step.name, task.run_id, error, task.attempts, trace)
        for hook in [*task.step.on_failure, *getattr(self.pipeline, "on_step_failure", [])]:
            try:
                hook(failure)
            except Exception as exc:  # noqa: BLE001 - a hook must not break the run
                print(f"modelyard: failure hook {getattr(hook, '__name__', hook)!r} raised {exc!r}")
        cls = StepTimeout if isinstance(error, StepTimeout) else StepFailed
        task.handle.future.set_exception(cls(f"step {task.key!r} failed: {task.error}", task.key, task.run_id, trace))

    def _keep_traceback(self, task: Task, trace: str) -> None:
        """The failure's traceback as the step run's artifact ``logs/traceback.txt``, beside its captured
        stdout and stderr: the UI's step panel and the run page show it. Best effort: a store that
        cannot take it must not hide the step's own error."""
        if not trace or not task.run_id:
            return
        try:
            repo = self.repo(self.step_artifact_uri(task))
            repo.put(TRACEBACK_LOG, io.BytesIO(trace.encode("utf-8", "replace")))
        except Exception as exc:  # noqa: BLE001 - reported, the run goes on failing as it would
            print(f"modelyard: could not keep the traceback of step {task.key!r}: {exc!r}", file=sys.stderr)

    def _record(self, task: Task, output: dict[str, Any] | None = None) -> dict[str, Any]:
        """The step's record as it stands (a new dict each time: the recorder keeps it as is)."""
        tags = {
            **self._tags, "mlflow.runName": task.key, "modelyard.pipeline.step": task.step.name,
            "modelyard.pipeline.task": task.key, "modelyard.pipeline.status": task.status,
            "modelyard.pipeline.attempts": str(task.attempts),
        }
        if task.cached_from:
            tags["modelyard.pipeline.cached_from"] = task.cached_from
        return {
            "pipeline_run_uuid": self.run_id, "task_key": task.key, "step": task.step.name, "run_uuid": task.run_id,
            "position": task.position, "status": task.status, "attempts": task.attempts, "cache_key": task.cache_key,
            "cached_from": task.cached_from, "start_time": task.start_time, "end_time": task.end_time,
            "inputs": task.inputs, "output": output, "error": task.error, "experiment_id": self.experiment_id,
            "user_id": self.user_id, "tags": tags, "params": task.params,
        }

    def _notify(self, event: str, task: Task) -> None:
        if self.progress is not None:
            self.progress(event, task)

    # ---- the end ------------------------------------------------------------------------

    def wait_all(self) -> None:
        while True:
            with self._lock:
                pending = [t.handle.future for t in self.tasks.values() if not t.handle.future.done()]
            if not pending:
                return
            for f in pending:
                with contextlib.suppress(BaseException):  # each task's failure is recorded on the task itself
                    f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.recorder.close()


def _shape_hash(value: Any) -> Any:
    """A value's structure with each handle replaced by its output's content hash."""
    if isinstance(value, Handle):
        return (value.ref or {}).get("hash")
    if isinstance(value, (list, tuple)):
        return [_shape_hash(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _shape_hash(v) for k, v in value.items()}
    return value_hash(value)


def backoff_delay(step: Step, attempt: int) -> float:
    """Exponential backoff with jitter: ``retry_delay * backoff**(attempt-1)`` ± ``jitter`` fraction."""
    base = min(step.max_delay, step.retry_delay * step.backoff ** max(0, attempt - 1))
    return max(0.0, base * (1 + random.uniform(-step.jitter, step.jitter)))

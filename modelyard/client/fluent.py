"""The fluent API: ``my.start_run()``, ``my.log_metric()``… with MLflow's names.

The active run is a stack per thread and per asyncio task (a ContextVar), not
a process-wide global. Metric points are batched in the background and
flushed at ``end_run``, at exit, and by :func:`flush`.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..entities import DatasetInput, Experiment, InputTag, Metric, Param, Run, RunStatus, RunTag, ViewType
from ..errors import InvalidParameterValue, ModelyardError
from ..service import limits
from ..settings import Settings
from .batching import MetricBatcher
from .client import Client
from .data import Dataset
from .uri import default_experiment_from_env, get_tracking_uri
from .values import metric_integer, metric_value

if TYPE_CHECKING:
    from .system_metrics import SystemMetricsMonitor

_lock = threading.RLock()
_clients: dict[str, tuple[Client, MetricBatcher]] = {}
_active: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar("modelyard_active_runs", default=())
_experiment_ids: dict[str, str] = {}  # active experiment per tracking URI
_last_run_id: str | None = None

PARENT_TAG = "mlflow.parentRunId"


def _client_and_batcher() -> tuple[Client, MetricBatcher]:
    uri = get_tracking_uri()
    with _lock:
        found = _clients.get(uri)
        if found is None:
            client = Client(uri)
            batcher = MetricBatcher(lambda run_id, ms: client.log_batch(run_id, ms))
            found = _clients[uri] = (client, batcher)
        return found


def get_client() -> Client:
    return _client_and_batcher()[0]


class ActiveRun:
    """The run started by :func:`start_run`; ends when its ``with`` block does."""

    def __init__(self, run: Run, client: Client, monitor: SystemMetricsMonitor | None) -> None:
        self._run = run
        self._client = client
        self._monitor = monitor

    @property
    def info(self):  # type: ignore[no-untyped-def]
        return self._run.info

    @property
    def data(self):  # type: ignore[no-untyped-def]
        return self._run.data

    @property
    def inputs(self):  # type: ignore[no-untyped-def]
        return self._run.inputs

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        status = RunStatus.FINISHED if exc_type is None else (
            RunStatus.KILLED if exc_type is KeyboardInterrupt else RunStatus.FAILED
        )
        end_run(status, _run=self)


# ---- experiments ----------------------------------------------------------------

def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment the default for new runs; create it by name if missing."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue("Give exactly one of experiment_name or experiment_id.")
    client = get_client()
    if experiment_id is not None:
        exp = client.get_experiment(experiment_id)
    else:
        assert experiment_name is not None
        found = client.get_experiment_by_name(experiment_name)
        if found is None:
            try:
                client.create_experiment(experiment_name)
            except ModelyardError as exc:  # created meanwhile by another process
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            found = client.get_experiment_by_name(experiment_name)
        assert found is not None
        exp = found
    if exp.lifecycle_stage != "active":
        raise InvalidParameterValue(
            f"Cannot set a deleted experiment {exp.name!r} as the active experiment. "
            "Restore it first or choose another name."
        )
    with _lock:
        _experiment_ids[get_tracking_uri()] = exp.experiment_id
    return exp


def _default_experiment_id() -> str:
    chosen = _experiment_ids.get(get_tracking_uri())
    if chosen is not None:
        return chosen
    name, experiment_id = default_experiment_from_env()
    if name:
        return set_experiment(name).experiment_id
    return experiment_id or "0"


# ---- runs -----------------------------------------------------------------------

def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start (or resume, with ``run_id``) a run and make it active in this thread/task."""
    global _last_run_id
    stack = _active.get()
    if stack and not nested:
        raise InvalidParameterValue(
            f"Run with UUID {stack[-1].info.run_id} is already active. To start a new run, first end the "
            "current run with modelyard.end_run(). To start a nested run, call start_run with nested=True"
        )
    client, _ = _client_and_batcher()
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.status != RunStatus.RUNNING:
            client.update_run(run_id, status=RunStatus.RUNNING)
            run = client.get_run(run_id)
    else:
        all_tags = _default_tags()
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        if parent:
            all_tags[PARENT_TAG] = parent
        if description:
            all_tags["mlflow.note.content"] = description
        run = client.create_run(experiment_id or _default_experiment_id(), tags=all_tags, run_name=run_name)
    monitor = None
    if log_system_metrics:
        from .system_metrics import SystemMetricsMonitor  # psutil loads only when asked for

        rid = run.info.run_id
        monitor = SystemMetricsMonitor(
            lambda ms: client.log_batch(rid, ms), interval=Settings.from_env().system_metrics_interval
        )
        monitor.start()
    active = ActiveRun(run, client, monitor)
    _active.set(stack + (active,))
    _last_run_id = run.info.run_id
    return active


def end_run(status: str = RunStatus.FINISHED, _run: ActiveRun | None = None) -> None:
    """End the active run (flushing its metrics first). A flush error is raised here."""
    stack = _active.get()
    if not stack:
        return
    target = _run or stack[-1]
    if target not in stack:
        return
    # End the target and any runs nested inside it.
    index = stack.index(target)
    _active.set(stack[:index])
    client, batcher = _client_and_batcher()
    error: BaseException | None = None
    for run in reversed(stack[index:]):
        if run._monitor is not None:
            run._monitor.stop()
        failed: BaseException | None = None
        try:
            batcher.flush(run.info.run_id)
        except BaseException as exc:  # this run's own lost points
            failed = exc
            error = error or exc
        client.set_terminated(run.info.run_id, status if failed is None else RunStatus.FAILED)
    if error is not None:
        raise error


@contextlib.contextmanager
def activated(run: Any) -> Iterator[None]:
    """Make ``run`` (anything with ``.info``) the active run of this thread/task for a block.

    For engines that run user code on behalf of a run they manage (pipeline
    steps): fluent calls inside the block log to ``run``; nothing is ended after.
    """
    token = _active.set(_active.get() + (run,))
    try:
        yield
    finally:
        _active.reset(token)


def default_experiment_id() -> str:
    """The experiment new runs go to: :func:`set_experiment`'s, else MLflow's env variables, else 0."""
    return _default_experiment_id()


def default_run_tags() -> dict[str, str]:
    """The tags every new run gets: user, source name and type, git commit."""
    return _default_tags()


def current_user() -> str:
    return _user()


def active_run() -> ActiveRun | None:
    stack = _active.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    return get_client().get_run(_last_run_id) if _last_run_id else None


def _run_id() -> str:
    run = active_run()
    if run is None:
        return str(start_run().info.run_id)  # as MLflow: logging starts a run when none is active
    return str(run.info.run_id)


def _default_tags() -> dict[str, str]:
    tags = {
        "mlflow.user": _user(),
        "mlflow.source.name": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "<console>",
        "mlflow.source.type": "LOCAL",
    }
    commit = _git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


_git_cache: dict[str, str | None] = {}


def _git_commit() -> str | None:
    cwd = os.getcwd()
    if cwd not in _git_cache:
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
            _git_cache[cwd] = out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            _git_cache[cwd] = None
    return _git_cache[cwd]


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"


# ---- logging --------------------------------------------------------------------

def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None, run_id: str | None = None) -> None:
    """Queue one point; it is sent in the background (see :func:`flush`)."""
    log_metrics({key: value}, step=step, timestamp=timestamp, run_id=run_id)


def log_metrics(metrics: dict[str, float], step: int | None = None, timestamp: int | None = None, run_id: str | None = None) -> None:
    """Queue points of one step; values may be numpy or one-element torch numbers, as in MLflow."""
    rid = run_id or _run_id()
    ts = int(time.time() * 1000) if timestamp is None else metric_integer(timestamp, _first(metrics), "timestamp")
    step = 0 if step is None else metric_integer(step, _first(metrics), "step")
    points = [Metric(k, metric_value(v, k), ts, step) for k, v in metrics.items()]
    for m in points:
        limits.check_metric(m)
    _client_and_batcher()[1].add(rid, points)


def _first(metrics: dict[str, Any]) -> str:
    return next(iter(metrics), "")


def flush() -> None:
    """Send every queued metric point now; raise the first error of a background send."""
    with _lock:
        batchers = [b for _, b in _clients.values()]
    for b in batchers:
        b.flush()


def log_param(key: str, value: Any) -> Any:
    run_id = _run_id()
    _client_and_batcher()[1].raise_error(run_id)
    return get_client().log_param(run_id, key, value)


def log_params(params: dict[str, Any]) -> None:
    run_id = _run_id()
    _client_and_batcher()[1].raise_error(run_id)
    get_client().log_batch(run_id, params=[Param(k, v) for k, v in params.items()])


def set_tag(key: str, value: Any) -> None:
    get_client().set_tag(_run_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    get_client().log_batch(_run_id(), tags=[RunTag(k, v) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    get_client().delete_tag(_run_id(), key)


def log_artifact(local_path: str, artifact_path: str | None = None) -> None:
    get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None) -> None:
    get_client().log_artifacts(_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    get_client().log_text(_run_id(), text, artifact_file)


def log_dict(dictionary: dict[str, Any], artifact_file: str) -> None:
    get_client().log_dict(_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    get_client().log_figure(_run_id(), figure, artifact_file)


def log_input(dataset: Dataset, context: str | None = None, tags: dict[str, str] | None = None) -> None:
    """Record a dataset as an input of the active run (``context``: training, eval…)."""
    input_tags = [InputTag(k, v) for k, v in (tags or {}).items()]
    if context:
        input_tags.append(InputTag("mlflow.data.context", context))
    get_client().log_inputs(_run_id(), [DatasetInput(dataset.to_entity(), input_tags)])


# ---- reads ----------------------------------------------------------------------

def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    flush()
    return get_client().get_metric_history(run_id, key)


def get_experiment(experiment_id: str) -> Experiment:
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return get_client().get_experiment_by_name(name)


def create_experiment(name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None) -> str:
    return get_client().create_experiment(name, artifact_location, tags)


def delete_experiment(experiment_id: str) -> None:
    get_client().delete_experiment(experiment_id)


def search_experiments(
    view_type: str = ViewType.ACTIVE_ONLY, filter_string: str | None = None, order_by: list[str] | None = None
) -> list[Experiment]:
    result = get_client().search_experiments(view_type, None, filter_string, order_by)
    assert isinstance(result, list)
    return result


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching MLflow's search grammar, as a pandas DataFrame (or ``output_format="list"``)."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(f"Unsupported output_format {output_format!r}: use 'pandas' or 'list'.")
    flush()
    client = get_client()
    ids = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            ids.append(exp.experiment_id)
    if not ids and not experiment_names:
        if search_all_experiments:
            found = client.search_experiments(view_type=ViewType.ALL)
            assert isinstance(found, list)
            ids = [e.experiment_id for e in found]
        else:
            ids = [_default_experiment_id()]
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page = client.search_runs(ids, filter_string, run_view_type, min(max_results - len(runs), 50_000), order_by, token)
        runs.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    if output_format == "list":
        return runs
    from .frames import runs_to_frame

    return runs_to_frame(runs)


def _at_exit() -> None:
    try:
        while active_run() is not None:
            end_run()
    except Exception as exc:
        print(f"modelyard: error while ending the run at exit: {exc}", file=sys.stderr)
    try:
        flush()
    except Exception as exc:
        print(f"modelyard: metrics not sent at exit: {exc}", file=sys.stderr)


atexit.register(_at_exit)

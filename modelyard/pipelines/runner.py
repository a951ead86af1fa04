"""Running and resuming a pipeline: the pipeline run's lifecycle around a RunContext."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from ..client import fluent
from ..client.uri import get_tracking_uri
from ..entities import Param, RunInfo, RunStatus
from . import capture, materialize
from .engine import PARENT_TAG, RunContext, Task, now_ms
from .errors import PipelineFailed, StepFailed
from .executors import get_executor
from .params import jsonable
from .pipeline import Pipeline, PipelineRun, load_pipeline
from .recorder import param_text
from .step import Handle, _local
from .task import StepRun, client_for


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any],
    *,
    executor: Any = None,
    max_workers: int | None = None,
    ray_address: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    cache: bool | None = None,
    progress: Callable[[str, Task], None] | None = None,
    raise_on_failure: bool = True,
    from_cli: bool = False,
    trigger: str | None = None,
    tick_id: int | None = None,
    event_id: int | None = None,
    resume: Any = None,
    reuse_code_outputs: bool = True,
) -> PipelineRun:
    typed = pipeline.check(params, from_cli=from_cli)
    uri = tracking_uri or get_tracking_uri()
    name = executor or pipeline.executor
    if resume is not None and name is None:
        name = resume.executor
    options: dict[str, Any] = {"max_workers": max_workers or pipeline.max_workers}
    if (name or "") == "ray":
        options["address"] = ray_address
    ex = get_executor(name, **({} if name == "inline" else options))
    ex.prepare(uri)
    client = client_for(uri)
    user = fluent.current_user()
    if resume is None:
        run_info = _create_run(pipeline, client, typed, experiment, user)
    else:
        client.update_run(resume.run_id, status=RunStatus.RUNNING)
        run_info = client.get_run(resume.run_id).info
    run_id = run_info.run_id
    suffix = f"/{run_id}/artifacts"
    root = run_info.artifact_uri.removesuffix(suffix)
    reuse = None
    if resume is not None:
        reuse = {s.task_key: {"status": s.status, "output": s.output, "run_id": s.run_id} for s in resume.steps}
    ctx = RunContext(
        pipeline=pipeline, client=client, executor=ex, run_id=run_id, experiment_id=run_info.experiment_id,
        artifact_root=root, tracking_uri=uri, use_cache=pipeline.cache if cache is None else cache, reuse=reuse,
        progress=progress, user_id=user, reuse_code_outputs=reuse_code_outputs,
    )
    record = {
        "run_uuid": run_id, "pipeline": pipeline.name, "reference": pipeline.reference,
        "params": jsonable(typed), "executor": ex.name, "status": RunStatus.RUNNING, "start_time": run_info.start_time,
        "trigger": trigger or (resume.trigger if resume is not None else "manual"), "tick_id": tick_id,
        "event_id": event_id,
    }
    ctx.recorder.pipeline(record)
    error: BaseException | None = None
    output: Any = None
    previous = getattr(_local, "context", None)
    _local.context = ctx
    with fluent.activated(StepRun(run_info, lambda: None)), capture.routing(tee=True):
        try:
            result = pipeline.fn(**typed)
        except Exception as exc:  # noqa: BLE001 - the pipeline's own code: its failure is the run's outcome
            error = exc
        finally:
            _local.context = previous
        ctx.wait_all()
        if error is None:
            try:
                output = ctx.resolve(result)
            except StepFailed as exc:
                error = exc
    failed = [k for k, t in ctx.tasks.items() if t.status in ("FAILED", "SKIPPED")]
    status = RunStatus.FAILED if (error is not None or failed) else RunStatus.FINISHED
    if status == RunStatus.FINISHED and output is not None:
        record["output"] = materialize.save(output, run_info.artifact_uri, ctx.repo)
    record.update(status=status, end_time=now_ms())
    ctx.recorder.pipeline(record)
    ctx.close()
    client.set_terminated(run_id, status)
    outcome = PipelineRun(run_id, pipeline.name, status, output, dict(ctx.tasks), error)
    if status == RunStatus.FAILED:
        detail = str(error) if error is not None and not failed else f"failed steps: {', '.join(failed)}"
        failure = PipelineFailed(f"Pipeline {pipeline.name!r} run {run_id} failed ({detail}). "
                                 f"Resume it with: modelyard pipelines resume {run_id}", run_id, failed)
        outcome.error = error or failure
        for hook in pipeline.on_failure:
            try:
                hook(failure)
            except Exception as hook_error:  # noqa: BLE001 - a user's hook must not hide the failure
                print(f"modelyard: pipeline failure hook raised {hook_error!r}")
        if raise_on_failure:
            raise failure from error
    return outcome


def _create_run(pipeline: Pipeline, client: Any, typed: dict[str, Any], experiment: str | None, user: str) -> RunInfo:
    name = experiment or pipeline.experiment
    if name:
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
    else:
        parent = fluent.active_run()
        exp_id = parent.info.experiment_id if parent is not None else fluent.default_experiment_id()
    tags = fluent.default_run_tags()
    tags.update({"modelyard.pipeline": pipeline.name, "modelyard.pipeline.reference": pipeline.reference,
                 "mlflow.user": user})
    parent = fluent.active_run()
    if parent is not None:
        tags[PARENT_TAG] = parent.info.run_id
    run = client.create_run(exp_id, start_time=int(time.time() * 1000), tags=tags, run_name=pipeline.name)
    if typed:
        client.log_batch(run.info.run_id, params=[Param(k, param_text(jsonable(v))) for k, v in typed.items()])
    return cast("RunInfo", run.info)


def resume(run_id: str, *, executor: Any = None, tracking_uri: str | None = None, reference: str | None = None,
           allow_files: bool = True, **options: Any) -> PipelineRun:
    """Run a failed pipeline run again, in place: finished steps are reused, the rest run.

    ``reference`` loads the pipeline from there instead of the reference the run
    recorded (the server passes the one its operator registered, with
    ``allow_files=False`` and ``reuse_code_outputs=False``).

    >>> my.pipelines.resume("3f2c...")       # or: modelyard pipelines resume RUN_ID
    """
    client = client_for(tracking_uri or get_tracking_uri())
    record = client.get_pipeline_run(run_id)
    if record.status not in ("FAILED", "KILLED"):
        raise StepFailed(
            f"Pipeline run {run_id} is {record.status}: only a FAILED or KILLED run can be resumed"
            " (a RUNNING one may still be running elsewhere)."
        )
    if (reference or record.reference) is None:
        raise StepFailed(f"Pipeline run {run_id} has no reference to load its pipeline from.")
    pipeline = load_pipeline(reference or record.reference, allow_files=allow_files)
    if reference is not None and pipeline.name != record.pipeline:
        raise StepFailed(f"Pipeline run {run_id} is a run of {record.pipeline!r}, not of {pipeline.name!r}.")
    return run_pipeline(pipeline, record.params, executor=executor, tracking_uri=tracking_uri, resume=record, **options)


def lineage(run_id: str, tracking_uri: str | None = None) -> Any:
    """The lineage of a pipeline run (or of the run a step run belongs to): ``Client.get_pipeline_lineage``."""
    return client_for(tracking_uri or get_tracking_uri()).get_pipeline_lineage(run_id)


__all__ = ["Handle", "lineage", "resume", "run_pipeline"]

"""``modelyard pipelines run|list|show|resume|schedule|backfill|cache|trigger``."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from .output import (
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_duration,
    format_time,
    json_option,
    key_values,
    reading_client,
    tracking_uri_option,
    truncate,
)

if TYPE_CHECKING:
    from ..pipelines import PipelineFailed

CAPTURED_LINES = 40  # of a failed step's stdout and stderr, printed after its traceback
_MARKS = {"finished": "ok", "cached": "cached", "reused": "reused", "failed": "FAILED", "skipped": "skipped",
          "retrying": "retry", "started": "..."}


@click.group("pipelines", cls=SdkGroup)
def command() -> None:
    """Run, inspect, resume, schedule and trigger pipelines."""


def _kv(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="-p")
        out[key] = value
    return out


def _param_option(fn: Any) -> Any:
    return click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
                        help="A pipeline parameter (repeatable); parsed by its declared type.")(fn)


def _server_launched_option(fn: Any) -> Any:
    """``--server-launched``: the server's scheduler or pages started this run, from a registered module: a file
    is refused, and stored outputs whose loading runs code (pickle, model) are not reused (see RunContext)."""
    return click.option("--server-launched", is_flag=True, hidden=True)(fn)


def _progress(quiet: bool, failed: list[Any] | None = None) -> Any:
    """Live progress on stderr (unless ``quiet``); each failed task is also appended to ``failed``."""
    started: dict[str, float] = {}

    def show(event: str, task: Any) -> None:
        if event == "failed" and failed is not None:
            failed.append(task)
        if quiet:
            return
        if event == "started":
            started[task.key] = time.monotonic()
        if event in ("submitted", "started"):
            return
        took = f" {time.monotonic() - started[task.key]:.2f}s" if task.key in started and event != "cached" else ""
        extra = f"  {task.error}" if event in ("failed", "skipped") and task.error else ""
        click.echo(f"  {_MARKS.get(event, event):>7}  {task.key}{took}{extra}", err=True)

    return show


def _run_result(result: Any, as_json: bool, quiet: bool) -> None:
    if as_json:
        body = {"run_id": result.run_id, "status": result.status, "tasks": {k: t.status for k, t in result.tasks.items()}}
        if result.output is not None:
            body["result"] = _jsonable(result.output)
        echo_json(body)
        return
    if result.output is not None:
        value = _jsonable(result.output)
        click.echo(f"result: {value if isinstance(value, str) else json.dumps(value)}")
    if not quiet:
        click.echo(f"{result.status} {result.run_id}")


def _jsonable(value: Any) -> Any:
    """``value`` when JSON can carry it, else its repr (a model, a frame...), cut to a screenful."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return truncate(repr(value), 2000)
    return value


def _captured(tracking_uri: str | None, run_id: str) -> list[tuple[str, str]]:
    """(name, last lines) of what a step's run captured on stdout and stderr (its ``logs/`` artifacts)."""
    import tempfile

    out = []
    try:
        client = reading_client(tracking_uri)
        names = {os.path.basename(f.path) for f in client.list_artifacts(run_id, "logs")}
        with tempfile.TemporaryDirectory() as folder:
            for stream in ("stdout", "stderr"):
                if f"{stream}.txt" not in names:
                    continue
                local = client.download_artifacts(run_id, f"logs/{stream}.txt", folder)
                with open(local, encoding="utf-8", errors="replace") as fh:
                    lines = fh.read().rstrip("\n").splitlines()
                shown = lines[-CAPTURED_LINES:]
                more = f" (last {len(shown)} of {len(lines)} lines)" if len(lines) > len(shown) else ""
                out.append((stream + more, "\n".join(shown)))
    except Exception:  # noqa: BLE001 - the step's error and traceback are the news; its logs are extra
        return out
    return out


def _failed(exc: PipelineFailed, failed: list[Any], tracking_uri: str | None) -> click.ClickException:
    """The run's one-line error, after each failed step's traceback (file and line) and what it
    printed, on stderr."""
    for task in failed:
        if task.traceback:
            click.echo(f"\nstep {task.key!r} failed:\n{task.traceback.rstrip()}", err=True)
        for stream, text in _captured(tracking_uri, task.run_id) if task.run_id else []:
            click.echo(f"\nstep {task.key!r} {stream}:\n{text}", err=True)
        click.echo("", err=True)
    return click.ClickException(exc.message)


@command.command("run")
@click.argument("reference")
@_param_option
@click.option("--executor", type=click.Choice(["inline", "process", "ray"]), default=None,
              help="Where steps run (default: the pipeline's, else process).")
@click.option("--max-workers", type=int, default=None, help="Steps running at once (process, ray).")
@click.option("--ray-address", default=None, help="A Ray cluster address (default: a local Ray).")
@click.option("--no-cache", is_flag=True, help="Run every step, ignoring cached results.")
@click.option("--experiment", default=None, help="Experiment name for the run.")
@click.option("--quiet", is_flag=True, help="No live progress.")
@click.option("--params-json", default=None, hidden=True)
@click.option("--trigger", default=None, hidden=True)
@click.option("--tick-id", type=int, default=None, hidden=True)
@click.option("--event-id", type=int, default=None, hidden=True)
@click.option("--logical-date", default=None, help="ISO date passed to the parameter named by --date-param.")
@click.option("--date-param", default="logical_date", show_default=True, help="Parameter that receives --logical-date.")
@click.option("--ignore-unknown-params", is_flag=True, hidden=True)
@_server_launched_option
@tracking_uri_option
@json_option
def run(reference: str, params: tuple[str, ...], executor: str | None, max_workers: int | None,
        ray_address: str | None, no_cache: bool, experiment: str | None, quiet: bool, params_json: str | None,
        trigger: str | None, tick_id: int | None, event_id: int | None, logical_date: str | None, date_param: str,
        ignore_unknown_params: bool, server_launched: bool, tracking_uri: str | None, as_json: bool) -> None:
    """Run the pipeline REFERENCE (path/to/file.py:name or module:name), e.g. -p epochs=3."""
    from ..pipelines import PipelineFailed, load_pipeline

    pipe = load_pipeline(reference, allow_files=not server_launched)
    values: dict[str, Any] = json.loads(params_json) if params_json else {}
    values.update(_kv(params))
    if logical_date and date_param in pipe.signature.parameters:
        values[date_param] = logical_date
    if ignore_unknown_params:
        values = {k: v for k, v in values.items() if k in pipe.signature.parameters}
    if not quiet and not as_json:
        click.echo(f"pipeline {pipe.name}", err=True)
    failed: list[Any] = []
    try:
        result = pipe.run(values, executor=executor, max_workers=max_workers, ray_address=ray_address,
                          tracking_uri=tracking_uri, experiment=experiment, cache=False if no_cache else None,
                          progress=_progress(quiet or as_json, failed), from_cli=True, trigger=trigger,
                          tick_id=tick_id, event_id=event_id, reuse_code_outputs=not server_launched)
    except PipelineFailed as exc:
        raise _failed(exc, failed, tracking_uri) from exc
    _run_result(result, as_json, quiet)


@command.command("resume")
@click.argument("run_id")
@click.option("--executor", type=click.Choice(["inline", "process", "ray"]), default=None)
@click.option("--reference", default=None,
              help="Load the pipeline from this file.py:name or module:name instead of the one the run recorded.")
@click.option("--quiet", is_flag=True)
@_server_launched_option
@tracking_uri_option
@json_option
def resume_(run_id: str, executor: str | None, reference: str | None, quiet: bool, server_launched: bool,
            tracking_uri: str | None, as_json: bool) -> None:
    """Re-run only the steps of RUN_ID that failed or never ran."""
    from ..pipelines import PipelineFailed, resume

    if server_launched and reference is None:
        raise click.UsageError("--server-launched needs --reference (the registered module:name).")
    failed: list[Any] = []
    try:
        result = resume(run_id, executor=executor, tracking_uri=tracking_uri, reference=reference,
                        allow_files=not server_launched, reuse_code_outputs=not server_launched,
                        progress=_progress(quiet or as_json, failed))
    except PipelineFailed as exc:
        raise _failed(exc, failed, tracking_uri) from exc
    _run_result(result, as_json, quiet)


@command.command("list")
@click.option("--pipeline", default=None, help="Only runs of this pipeline.")
@click.option("--status", default=None, help="RUNNING, FINISHED or FAILED.")
@click.option("--max-results", default=50, show_default=True, type=int)
@click.option("--registered", is_flag=True,
              help="List the pipelines the server may run (what schedules and triggers name) instead of runs.")
@tracking_uri_option
@json_option
def list_(pipeline: str | None, status: str | None, max_results: int, registered: bool, tracking_uri: str | None,
          as_json: bool) -> None:
    """Pipeline runs, newest first (or, with --registered, the pipelines the server may run)."""
    if registered:
        rows = client(tracking_uri).list_registered_pipelines()  # the settings, not the store
        if as_json:
            echo_json(rows)
        else:
            echo_table([(p["name"], p["reference"], p["source"]) for p in rows], ["name", "reference", "source"])
        return
    page = reading_client(tracking_uri).search_pipeline_runs(pipeline, status, max_results)
    if as_json:
        echo_json([r.to_dict() for r in page.items])
        return
    echo_table([(r.run_id, r.pipeline, r.status, format_time(r.start_time), format_duration(r.start_time, r.end_time),
                 r.trigger) for r in page.items], ["run_id", "pipeline", "status", "started", "took", "trigger"])


@command.command("show")
@click.argument("run_id")
@tracking_uri_option
@json_option
def show(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """A pipeline run and its steps (graph order)."""
    rec = reading_client(tracking_uri).get_pipeline_run(run_id)
    if as_json:
        echo_json(rec.to_dict())
        return
    click.echo(key_values([("run_id", rec.run_id), ("pipeline", rec.pipeline), ("status", rec.status),
                           ("reference", rec.reference), ("params", json.dumps(rec.params)), ("executor", rec.executor),
                           ("trigger", rec.trigger), ("took", format_duration(rec.start_time, rec.end_time))]))
    click.echo()
    echo_table([(s.task_key, s.status, s.attempts, format_duration(s.start_time, s.end_time), s.run_id,
                 ", ".join(sorted({i["task_key"] for i in s.inputs})), s.cached_from or "", (s.error or "")[:60])
                for s in rec.steps], ["task", "status", "attempts", "took", "run_id", "inputs", "cached_from", "error"])


# ---- cache ------------------------------------------------------------------------------


@command.group("cache", cls=SdkGroup)
def cache() -> None:
    """The step cache."""


@cache.command("list")
@click.option("--pipeline", default=None)
@click.option("--step", default=None)
@tracking_uri_option
@json_option
def cache_list(pipeline: str | None, step: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Cached step outputs."""
    entries = reading_client(tracking_uri).list_pipeline_cache(pipeline, step)
    if as_json:
        echo_json(entries)
        return
    echo_table([(e["cache_key"][:16], e["pipeline"], e["step"], e["run_id"], e["hits"], format_time(e["created_time"]),
                 (e["output"] or {}).get("kind")) for e in entries],
               ["key", "pipeline", "step", "run_id", "hits", "created", "kind"])


@cache.command("clear")
@click.option("--pipeline", default=None)
@click.option("--step", default=None)
@tracking_uri_option
def cache_clear(pipeline: str | None, step: str | None, tracking_uri: str | None) -> None:
    """Forget cached outputs (all, a pipeline's, or one step's)."""
    n = client(tracking_uri).clear_pipeline_cache(pipeline, step)
    click.echo(f"Deleted {n} cache entr{'y' if n == 1 else 'ies'}.")


# ---- schedules and backfill -----------------------------------------------------------------


@command.group("schedule", cls=SdkGroup)
def schedule() -> None:
    """Cron schedules run by the server's scheduler."""


@schedule.command("create")
@click.argument("name")
@click.argument("pipeline")
@click.option("--cron", required=True, help='5 fields, or 6 with leading seconds ("*/10 * * * * *"); UTC.')
@_param_option
@click.option("--executor", type=click.Choice(["inline", "process", "ray"]), default=None)
@click.option("--date-param", default="logical_date", show_default=True, help="Parameter given each tick's time.")
@click.option("--catchup", is_flag=True, help="Run every missed tick (default: only the latest).")
@click.option("--paused", is_flag=True)
@tracking_uri_option
@json_option
def schedule_create(name: str, pipeline: str, cron: str, params: tuple[str, ...], executor: str | None, date_param: str,
                    catchup: bool, paused: bool, tracking_uri: str | None, as_json: bool) -> None:
    """Run the registered PIPELINE (its name: see `list --registered`) on the server at each tick of --cron."""
    out = client(tracking_uri).create_pipeline_schedule(name, pipeline, cron, _kv(params), executor, date_param,
                                                        catchup, paused)
    _echo_schedule(out, as_json)


def _echo_schedule(s: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(s)
        return
    click.echo(key_values([("name", s["name"]), ("pipeline", s["reference"]), ("cron", s["cron"]),
                           ("params", json.dumps(s["params"])), ("paused", str(s["paused"])),
                           ("next tick", format_time(s["next_tick_time"]))]))


@schedule.command("list")
@tracking_uri_option
@json_option
def schedule_list(tracking_uri: str | None, as_json: bool) -> None:
    rows = client(tracking_uri).list_pipeline_schedules()
    if as_json:
        echo_json(rows)
        return
    echo_table([(s["name"], s["cron"], s["reference"], "paused" if s["paused"] else "active",
                 format_time(s["next_tick_time"])) for s in rows], ["name", "cron", "pipeline", "state", "next tick"])


@schedule.command("pause")
@click.argument("name")
@tracking_uri_option
def schedule_pause(name: str, tracking_uri: str | None) -> None:
    client(tracking_uri).pause_pipeline_schedule(name)
    click.echo(f"Paused {name}.")


@schedule.command("resume")
@click.argument("name")
@tracking_uri_option
def schedule_resume(name: str, tracking_uri: str | None) -> None:
    client(tracking_uri).resume_pipeline_schedule(name)
    click.echo(f"Resumed {name}.")


@schedule.command("delete")
@click.argument("name")
@tracking_uri_option
def schedule_delete(name: str, tracking_uri: str | None) -> None:
    client(tracking_uri).delete_pipeline_schedule(name)
    click.echo(f"Deleted {name}.")


def _utc_ms(text: str) -> int:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


@command.command("backfill")
@click.argument("name")
@click.option("--start", required=True, help="ISO date/time (UTC unless given).")
@click.option("--end", required=True, help="ISO date/time, inclusive.")
@click.option("--executor", type=click.Choice(["inline", "process", "ray"]), default=None)
@click.option("--reference", default=None,
              help="The pipeline to run (file.py:name or module:name); default: the schedule's registered pipeline, "
                   "found among those registered here (MODELYARD_PIPELINE_MODULES, entry points).")
@click.option("--quiet", is_flag=True)
@tracking_uri_option
def backfill(name: str, start: str, end: str, executor: str | None, reference: str | None, quiet: bool,
             tracking_uri: str | None) -> None:
    """Run schedule NAME here for each of its ticks in [--start, --end] not run yet, in order."""
    from ..pipelines import PipelineFailed, load_pipeline

    c = client(tracking_uri)
    sched = c.get_pipeline_schedule(name)
    pipe = load_pipeline(reference or _registered_here(sched["reference"]))
    ticks = c.claim_pipeline_backfill(name, _utc_ms(start), _utc_ms(end))
    failed = 0
    for t in sorted(ticks, key=lambda t: t["tick_time"]):
        values = dict(sched["params"])
        date = datetime.fromtimestamp(t["tick_time"] / 1000, tz=timezone.utc).isoformat()
        if sched.get("date_param") and sched["date_param"] in pipe.signature.parameters:
            values[sched["date_param"]] = date
        try:
            result = pipe.run(values, executor=executor or sched["executor"], tracking_uri=tracking_uri, from_cli=True,
                              trigger=f"backfill:{name}", tick_id=t["tick_id"], progress=_progress(quiet))
            click.echo(f"{date}  {result.status}  {result.run_id}")
        except PipelineFailed as exc:
            failed += 1
            click.echo(f"{date}  FAILED  {exc.run_id}")
    click.echo(f"{len(ticks)} tick(s) run, {failed} failed.")
    if failed:
        raise SystemExit(1)


def _registered_here(pipeline: str) -> str:
    """The ``module:attr`` of ``pipeline`` among the pipelines registered in this environment."""
    from ..service.pipeline_registry import PipelineRegistry
    from ..settings import Settings

    found = PipelineRegistry(Settings.from_env().pipeline_modules).get(pipeline)
    if found is None:
        raise click.ClickException(
            f"Pipeline {pipeline!r} is not registered here (MODELYARD_PIPELINE_MODULES or the entry-point group "
            "modelyard.pipelines): name its code with --reference file.py:name or module:name."
        )
    return found.reference


# ---- triggers -----------------------------------------------------------------------------


@command.group("trigger", cls=SdkGroup)
def trigger() -> None:
    """Runs started by events: a new model version, an authenticated HTTP call, an alert."""


@trigger.command("create")
@click.argument("name")
@click.argument("pipeline")
@click.option("--kind", type=click.Choice(["model_version", "http", "api"]), required=True)
@click.option("--model", default=None, help="Registered model to watch (kind model_version).")
@_param_option
@click.option("--executor", type=click.Choice(["inline", "process", "ray"]), default=None)
@tracking_uri_option
@json_option
def trigger_create(name: str, pipeline: str, kind: str, model: str | None, params: tuple[str, ...], executor: str | None,
                   tracking_uri: str | None, as_json: bool) -> None:
    """Create a trigger running the registered PIPELINE; prints its token once (for POST
    /api/2.0/modelyard/pipelines/triggers/fire)."""
    out = client(tracking_uri).create_pipeline_trigger(name, kind, pipeline, _kv(params), executor,
                                                       {"model": model} if model else {})
    if as_json:
        echo_json(out)
        return
    click.echo(key_values([("name", out["name"]), ("kind", out["kind"]), ("pipeline", out["reference"]),
                           ("token", out["token"])]))


@trigger.command("list")
@tracking_uri_option
@json_option
def trigger_list(tracking_uri: str | None, as_json: bool) -> None:
    rows = client(tracking_uri).list_pipeline_triggers()
    if as_json:
        echo_json(rows)
        return
    echo_table([(t["name"], t["kind"], t["reference"], "paused" if t["paused"] else "active") for t in rows],
               ["name", "kind", "pipeline", "state"])


@trigger.command("fire")
@click.argument("name")
@click.option("--token", default=None, help="The trigger's token (needed over HTTP).")
@_param_option
@tracking_uri_option
def trigger_fire(name: str, token: str | None, params: tuple[str, ...], tracking_uri: str | None) -> None:
    """Queue a run now (the server's scheduler launches it)."""
    out = client(tracking_uri).fire_pipeline_trigger(name, _kv(params), None, token)
    click.echo(f"Queued event {out['event_id']}.")


for _verb, _paused in (("pause", True), ("resume", False)):
    def _make(paused: bool) -> Any:
        @click.argument("name")
        @tracking_uri_option
        def cmd(name: str, tracking_uri: str | None) -> None:
            c = client(tracking_uri)
            (c.pause_pipeline_trigger if paused else c.resume_pipeline_trigger)(name)
            click.echo(f"{'Paused' if paused else 'Resumed'} {name}.")
        return cmd
    trigger.command(_verb)(_make(_paused))


@trigger.command("delete")
@click.argument("name")
@tracking_uri_option
def trigger_delete(name: str, tracking_uri: str | None) -> None:
    client(tracking_uri).delete_pipeline_trigger(name)
    click.echo(f"Deleted {name}.")

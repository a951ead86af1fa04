"""``modelyard gc``: purge deleted runs and experiments with their artifacts (as ``mlflow gc``), or old
rows of the serving request log."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from typing import Any

import click

from ..errors import InvalidParameterValue
from .db import StoreCommand, resolve_store_uri, store_uri_option
from .output import echo_json

_AGE = re.compile(r"^((?P<days>[.\d]+?)d)?((?P<hours>[.\d]+?)h)?((?P<minutes>[.\d]+?)m)?((?P<seconds>[.\d]+?)s)?$")


def parse_age(text: str) -> int:
    """``1d2h3m4s`` (each part optional, floats allowed, as ``mlflow gc --older-than``) in milliseconds."""
    found = _AGE.match(text.strip())
    try:
        parts = {k: float(v) for k, v in found.groupdict().items() if v} if found else {}
    except ValueError:
        parts = {}
    if not parts:
        raise click.BadParameter(f"{text!r} is not an age: use #d#h#m#s, e.g. 30d, 12h or 1d2h30m.",
                                 param_hint="--older-than")
    return int(timedelta(**parts).total_seconds() * 1000)


def _ids(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("gc", cls=StoreCommand)
@click.option("--older-than", default=None, metavar="AGE",
              help="Only what was deleted at least this long ago: #d#h#m#s, e.g. 30d or 1d12h (floats allowed)."
              " With --request-log: requests older than this (default: MODELYARD_REQUEST_LOG_RETENTION_DAYS).")
@click.option("--run-ids", multiple=True, metavar="ID[,ID...]",
              help="Purge only these runs (they must be deleted). Comma-separated or repeated.")
@click.option("--experiment-ids", multiple=True, metavar="ID[,ID...]",
              help="Purge only these experiments and all their runs (they must be deleted). Comma-separated or repeated.")
@click.option("--dry-run", is_flag=True, help="Print what would be purged; change nothing.")
@click.option("--traces", is_flag=True,
              help="Instead: delete each experiment's traces older than its retention (tag"
              " modelyard.traces.retention_days, else --older-than, else MODELYARD_TRACE_RETENTION_DAYS).")
@click.option("--vacuum", is_flag=True, help="With --traces, on SQLite: give the freed pages back to the file system"
              " (VACUUM rewrites the database file; writers wait meanwhile).")
@click.option("--request-log", is_flag=True,
              help="Instead: delete served requests and feedback of the serving request log older than --older-than.")
@store_uri_option
@click.option("--artifacts-destination", default=None, metavar="PATH_OR_URI",
              help="The server's --artifacts-destination, where mlflow-artifacts:/ locations live. Default:"
              " MODELYARD_ARTIFACTS_DESTINATION, else the artifacts folder beside a SQLite store.")
@click.option("--default-artifact-root", default=None, metavar="URI",
              help="The server's --default-artifact-root, if it has one: another place gc may delete files in"
              " (default: MODELYARD_DEFAULT_ARTIFACT_ROOT). More roots: MODELYARD_ARTIFACT_ROOTS.")
@click.option("--json", "as_json", is_flag=True, help="Print what was purged as JSON.")
def command(older_than: str | None, run_ids: tuple[str, ...], experiment_ids: tuple[str, ...], dry_run: bool,
            traces: bool, vacuum: bool, request_log: bool, backend_store_uri: str | None, artifacts_destination: str | None,
            default_artifact_root: str | None, as_json: bool) -> None:
    """Permanently delete runs and experiments in the deleted stage, with their artifacts.

    With no ids, everything deleted (at least --older-than ago); with --run-ids or --experiment-ids,
    only those. Artifacts go first, and only inside the store's artifact roots; a run whose files
    cannot be deleted keeps its rows for the next gc. Runs and experiments that hold the files of
    a registered model version are kept, so every version keeps working. Run it while servers run.
    """
    age = parse_age(older_than) if older_than is not None else None
    uri = resolve_store_uri(backend_store_uri)
    if traces:
        if run_ids or experiment_ids or request_log or dry_run:
            raise click.UsageError("--traces purges old traces only: leave out --run-ids, --experiment-ids,"
                                   " --request-log and --dry-run.")
        _traces(_service(uri, artifacts_destination, default_artifact_root), age, vacuum, as_json)
        return
    if vacuum:
        raise click.UsageError("--vacuum goes with --traces.")
    if request_log:
        if run_ids or experiment_ids:
            raise click.UsageError("--request-log purges the request log only: leave out --run-ids and --experiment-ids.")
        _request_log(uri, age, dry_run, as_json)
        return
    from ..service.gc import collect

    service = _service(uri, artifacts_destination, default_artifact_root)
    report = collect(service, older_than_ms=age, run_ids=_ids(run_ids), experiment_ids=_ids(experiment_ids),
                     dry_run=dry_run)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print(report)
    if report.failed:
        sys.exit(1)


def _service(uri: str, artifacts_destination: str | None = None, default_artifact_root: str | None = None) -> Any:
    """The store's service, opened as the server opens it (an existing store only)."""
    from ..client.uri import embedded_location
    from ..service import TrackingService
    from ..settings import Settings
    from ..store.upgrade import revision

    revision(uri)  # a missing SQLite file is an error here, not a new empty store
    settings = Settings.from_env()
    destination = artifacts_destination or settings.artifacts_destination or embedded_location(uri).artifact_root
    if "://" not in destination:
        destination = os.path.abspath(destination)
    root = default_artifact_root or settings.default_artifact_root
    if root and "://" not in root:
        root = os.path.abspath(root)
    service = TrackingService(settings.with_(backend_store_uri=uri, artifacts_destination=destination,
                                             default_artifact_root=root))
    click.get_current_context().call_on_close(service.close)
    return service


def _traces(service: Any, age: int | None, vacuum: bool, as_json: bool) -> None:
    from ..service import trace_retention

    days = None if age is None else age / trace_retention.DAY_MS
    try:
        report = trace_retention.purge_traces(service, days)
    except InvalidParameterValue as exc:
        raise click.ClickException(exc.message) from exc
    vacuumed = trace_retention.vacuum(service) if vacuum else False
    if as_json:
        echo_json({**report.to_dict(), "vacuumed": vacuumed})
        return
    for exp, count in report.by_experiment.items():
        click.echo(f"Deleted {count} traces of experiment {exp}.")
    for exp, value in report.bad_tags.items():
        click.echo(f"Experiment {exp}: tag {trace_retention.RETENTION_TAG}={value!r} is not a number of days;"
                   " the default retention applied.", err=True)
    click.echo(f"Deleted {report.traces} traces and the files of {report.artifacts_deleted}."
               + (" Vacuumed the database." if vacuumed else ""))


def _request_log(uri: str, age: int | None, dry_run: bool, as_json: bool) -> None:
    from ..service.gc import DAY_MS, purge_request_log
    from ..settings import Settings

    if age is None:
        days = Settings.from_env().request_log_retention_days
        if days <= 0:
            raise click.UsageError("Give --older-than (e.g. 30d) or set MODELYARD_REQUEST_LOG_RETENTION_DAYS.")
        age = int(days * DAY_MS)
    if age <= 0:
        raise click.BadParameter("must be more than 0s for the request log.", param_hint="--older-than")
    if dry_run:
        raise click.UsageError("--dry-run is not available with --request-log.")
    try:
        requests, feedback = purge_request_log(_service(uri), age)
    except InvalidParameterValue as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        echo_json({"requests": requests, "feedback": feedback})
    else:
        click.echo(f"Deleted {requests} served requests and {feedback} feedback rows older than {timedelta(milliseconds=age)}.")


def _print(report: Any) -> None:
    verb = "Would purge" if report.dry_run else "Purged"
    for run_id in report.runs:
        click.echo(f"{verb} run {run_id}.")
    for experiment_id in report.experiments:
        click.echo(f"{verb} experiment {experiment_id}.")
    for model_id in report.logged_models:
        click.echo(f"{verb} logged model {model_id}.")
    for uri in report.artifacts_deleted:
        click.echo(f"Deleted the files at {uri}.")
    for kept in report.kept:
        click.echo(f"Kept {kept['kind']} {kept['id']}: {kept['reason']}.")
    for skipped in report.artifacts_skipped:
        click.echo(f"Left the files at {skipped['uri']} in place: {skipped['reason']}.")
    for failed in report.failed:
        click.echo(f"Not purged {failed['kind']} {failed['id']}: {failed['reason']}", err=True)
    rows = ", ".join(f"{table} {count}" for table, count in sorted(report.rows.items()))
    summary = f"{verb} {_count(len(report.runs), 'run')} and {_count(len(report.experiments), 'experiment')}"
    click.echo(summary + (f" (rows: {rows})." if rows else "."))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

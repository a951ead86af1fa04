"""``modelyard runs list|show|search|delete``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import click

from ..client.client import Client
from ..entities import InputTag, PagedList, Run
from .output import (
    VIEWS,
    F,
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_duration,
    format_time,
    json_option,
    key_values,
    reading_client,
    store_name,
    tracking_uri_option,
    view_option,
)

PARENT_TAG = "mlflow.parentRunId"
MAX_METRIC_COLUMNS = 6


@click.group("runs", cls=SdkGroup)
def command() -> None:
    """List, search, show and delete runs."""


def _page_options(fn: F) -> F:
    fn = click.option("--page-token", default=None, help="Continue from the token a previous page printed.")(fn)
    fn = click.option("--max-results", default=100, show_default=True, type=click.IntRange(1, 50_000), help="Runs per page.")(fn)
    return fn


@command.command("list")
@click.option("--experiment-id", default=None, help="The experiment's id.")
@click.option("--experiment-name", default=None, help="The experiment's name (instead of --experiment-id).")
@view_option("runs")
@_page_options
@tracking_uri_option
@json_option
def list_(
    experiment_id: str | None,
    experiment_name: str | None,
    view: str,
    max_results: int,
    page_token: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """List the runs of one experiment, newest first."""
    if (experiment_id is None) == (experiment_name is None):
        raise click.UsageError("Give one of --experiment-id or --experiment-name.")
    c = reading_client(tracking_uri)
    ids = _experiment_ids(c, [experiment_id] if experiment_id else [], [experiment_name] if experiment_name else [],
                          tracking_uri)
    page = c.search_runs(ids, run_view_type=VIEWS[view], max_results=max_results, page_token=page_token)
    shown = "" if view == "active" else f"{view} "
    _echo_runs(page, as_json, empty=f"No {shown}runs in experiment {experiment_name or experiment_id!r} of the store "
                                    f"at {store_name(tracking_uri)}.")


@command.command("search")
@click.option("--experiment-id", "experiment_ids", multiple=True, help="An experiment to search (repeatable). Default: all.")
@click.option("--experiment-name", "experiment_names", multiple=True, help="An experiment to search, by name (repeatable).")
@click.option("--filter", "filter_string", default="", help="e.g. \"metrics.accuracy > 0.9 AND params.weights = 'uniform'\".")
@click.option("--order-by", "order_by", multiple=True, help="e.g. 'metrics.accuracy DESC' (repeatable).")
@view_option("runs")
@_page_options
@tracking_uri_option
@json_option
def search(
    experiment_ids: tuple[str, ...],
    experiment_names: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    view: str,
    max_results: int,
    page_token: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Search runs with MLflow's grammar (metrics., params., tags., attributes., datasets.)."""
    c = reading_client(tracking_uri)
    ids = _experiment_ids(c, list(experiment_ids), list(experiment_names), tracking_uri)
    if not ids:
        ids = [e.experiment_id for e in c.search_experiments()]
    page = c.search_runs(
        ids,
        filter_string=filter_string,
        run_view_type=VIEWS[view],
        max_results=max_results,
        order_by=list(order_by) or None,
        page_token=page_token,
    )
    if not page.items and not page_token and filter_string:
        from ..service.search_hint import unknown_keys

        if problems := unknown_keys(c.search_runs, ids, filter_string):
            raise click.ClickException(" ".join(problems))
    _echo_runs(page, as_json, first_metrics=_metric_keys(order_by))


@command.command("show")
@click.argument("run_id")
@tracking_uri_option
@json_option
def show(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a run: its info, params, latest metrics, tags and dataset inputs."""
    run = reading_client(tracking_uri).get_run(run_id)
    if as_json:
        echo_json(run.to_dict())
        return
    info, data = run.info, run.data
    click.echo(
        key_values(
            [
                ("run id", info.run_id),
                ("name", info.run_name),
                ("experiment id", info.experiment_id),
                ("parent run id", data.tags.get(PARENT_TAG)),
                ("status", info.status),
                ("lifecycle stage", info.lifecycle_stage),
                ("user", info.user_id),
                ("started", format_time(info.start_time)),
                ("ended", format_time(info.end_time)),
                ("duration", format_duration(info.start_time, info.end_time)),
                ("artifact uri", info.artifact_uri),
            ]
        )
    )
    _section("Params")
    echo_table(sorted(data.params.items()), ["KEY", "VALUE"])
    _section("Metrics (latest)")
    latest = sorted(data.metric_objects, key=lambda m: m.key)
    echo_table(([m.key, m.value, m.step, format_time(m.timestamp)] for m in latest), ["KEY", "VALUE", "STEP", "LOGGED"])
    _section("Tags")
    # The user's tags first, then the system's (mlflow.*).
    tags = sorted(data.tags.items(), key=lambda kv: (kv[0].startswith("mlflow."), kv[0]))
    echo_table(tags, ["KEY", "VALUE"])
    if run.inputs.dataset_inputs:
        _section("Datasets")
        echo_table(
            (
                [i.dataset.name, i.dataset.digest, _context(i.tags), i.dataset.source_type]
                for i in run.inputs.dataset_inputs
            ),
            ["NAME", "DIGEST", "CONTEXT", "SOURCE TYPE"],
        )


@command.command("delete")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@tracking_uri_option
@json_option
def delete(run_ids: tuple[str, ...], tracking_uri: str | None, as_json: bool) -> None:
    """Delete runs (a soft delete: they can be restored)."""
    c = client(tracking_uri)
    for run_id in run_ids:
        c.delete_run(run_id)
        if not as_json:
            click.echo(f"Deleted run {run_id}.")
    if as_json:
        echo_json({"deleted_run_ids": list(run_ids)})


# ---- helpers ------------------------------------------------------------------


def _experiment_ids(c: Client, ids: list[str], names: list[str], tracking_uri: str | None) -> list[str]:
    resolved = [c.get_experiment(i).experiment_id for i in ids]  # an unknown id is an error, not "No runs."
    for name in names:
        experiment = c.get_experiment_by_name(name)
        if experiment is None:
            raise click.ClickException(f"Experiment {name!r} does not exist in the store at {store_name(tracking_uri)}.")
        resolved.append(experiment.experiment_id)
    return resolved


def _echo_runs(page: PagedList, as_json: bool, first_metrics: Sequence[str] = (), empty: str = "No runs.") -> None:
    runs: list[Run] = page.items
    if as_json:
        body: dict[str, object] = {"runs": [r.to_dict() for r in runs]}
        if page.next_page_token:
            body["next_page_token"] = page.next_page_token
        echo_json(body)
        return
    metrics = _metric_columns(runs, first_metrics)
    headers = ["RUN ID", "NAME", "STATUS", "STARTED", "DURATION", "PARENT", *metrics]
    rows = (
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status,
            format_time(r.info.start_time),
            format_duration(r.info.start_time, r.info.end_time),
            (r.data.tags.get(PARENT_TAG) or "")[:8],
            *(r.data.metrics.get(k) for k in metrics),
        ]
        for r in runs
    )
    echo_table(rows, headers, empty=empty)
    if page.next_page_token:
        click.echo(f"More runs: add --page-token {page.next_page_token}", err=True)


def _metric_columns(runs: list[Run], first: Sequence[str]) -> list[str]:
    """The metric keys worth a column: those ordered by, then the most common, without system metrics."""
    counts = Counter(k for r in runs for k in r.data.metrics if not k.startswith("system/"))
    ordered = [k for k in first if k in counts]
    ordered += sorted(set(counts) - set(ordered), key=lambda k: (-counts[k], k))
    return ordered[:MAX_METRIC_COLUMNS]


_METRIC_KEY = re.compile(r"^\s*metrics\.(?:`([^`]+)`|\"([^\"]+)\"|(\S+))", re.IGNORECASE)


def _metric_keys(order_by: Sequence[str]) -> list[str]:
    keys = []
    for clause in order_by:
        m = _METRIC_KEY.match(clause)
        if m:
            keys.append(next(g for g in m.groups() if g))
    return keys


def _context(tags: list[InputTag]) -> str:
    return next((t.value for t in tags if t.key == "mlflow.data.context"), "")


def _section(title: str) -> None:
    click.echo(f"\n{title}")

"""``modelyard models list|show|versions|search|stage|audit|lineage`` and ``modelyard models alias set|delete``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..entities import PagedList
from ..entities.registry import ModelVersion, RegisteredModel, Stage
from .output import (
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_time,
    json_option,
    key_values,
    reading_client,
    tracking_uri_option,
    truncate,
)


@click.group("models", cls=SdkGroup)
def command() -> None:
    """Registered models: list, show, search, versions, aliases, stages, audit trail, lineage."""


def _page_json(key: str, page: PagedList) -> dict[str, object]:
    body: dict[str, object] = {key: [item.to_dict() for item in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


def _more(page: PagedList, what: str) -> None:
    if page.next_page_token:
        click.echo(f"More {what}: add --page-token {page.next_page_token}", err=True)


def _latest(m: RegisteredModel) -> str:
    return max((v.version for v in m.latest_versions), key=int, default="")


def _echo_models(page: PagedList, as_json: bool) -> None:
    if as_json:
        echo_json(_page_json("registered_models", page))
        return
    models: list[RegisteredModel] = page.items
    rows = (
        [m.name, _latest(m), ", ".join(f"{a}={v}" for a, v in m.aliases.items()),
         format_time(m.last_updated_timestamp), truncate(m.description or "", 40)]
        for m in models
    )
    echo_table(rows, ["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"], empty="No registered models.")
    _more(page, "models")


def _echo_versions(page: PagedList, as_json: bool) -> None:
    if as_json:
        echo_json(_page_json("model_versions", page))
        return
    versions: list[ModelVersion] = page.items
    rows = (
        [v.name, v.version, v.current_stage, ", ".join(v.aliases), v.status, (v.run_id or "")[:8],
         format_time(v.creation_timestamp), truncate(v.source or "", 50)]
        for v in versions
    )
    echo_table(rows, ["NAME", "VERSION", "STAGE", "ALIASES", "STATUS", "RUN", "CREATED", "SOURCE"],
               empty="No model versions.")
    _more(page, "versions")


F = TypeVar("F", bound=Callable[..., Any])


def _page_options(default: int, limit: int) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn = click.option("--page-token", default=None, help="Continue from the token a previous page printed.")(fn)
        fn = click.option("--max-results", default=default, show_default=True, type=click.IntRange(1, limit),
                          help="Results per page.")(fn)
        return fn

    return decorate


@command.command("list")
@_page_options(100, 1000)
@tracking_uri_option
@json_option
def list_(max_results: int, page_token: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List registered models by name."""
    page = reading_client(tracking_uri).search_registered_models(max_results=max_results, page_token=page_token)
    _echo_models(page, as_json)


@command.command("search")
@click.option("--filter", "filter_string", default=None,
              help="e.g. \"name LIKE 'fraud%' AND tags.team = 'risk'\" (with --versions: "
                   "\"run_id IN ('a1b2') AND version_number > 2\").")
@click.option("--order-by", "order_by", multiple=True, help="e.g. 'last_updated_timestamp DESC' (repeatable).")
@click.option("--versions", is_flag=True, help="Search model versions instead of registered models.")
@_page_options(100, 1000)
@tracking_uri_option
@json_option
def search(
    filter_string: str | None, order_by: tuple[str, ...], versions: bool, max_results: int,
    page_token: str | None, tracking_uri: str | None, as_json: bool,
) -> None:
    """Search registered models (or their versions) with MLflow's filter grammar."""
    c = reading_client(tracking_uri)
    if versions:
        page = c.search_model_versions(filter_string, max_results, list(order_by) or None, page_token)
        _echo_versions(page, as_json)
    else:
        _echo_models(c.search_registered_models(filter_string, max_results, list(order_by) or None, page_token),
                     as_json)


@command.command("show")
@click.argument("name")
@tracking_uri_option
@json_option
def show(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a registered model: description, tags, aliases and the newest version in each stage."""
    model = reading_client(tracking_uri).get_registered_model(name)
    if as_json:
        echo_json(model.to_dict())
        return
    click.echo(key_values([
        ("name", model.name),
        ("description", model.description),
        ("created", format_time(model.creation_timestamp)),
        ("updated", format_time(model.last_updated_timestamp)),
    ]))
    click.echo("\nAliases")
    echo_table(sorted(model.aliases.items()), ["ALIAS", "VERSION"])
    click.echo("\nLatest versions")
    echo_table(([v.current_stage, v.version, v.source] for v in model.latest_versions), ["STAGE", "VERSION", "SOURCE"])
    click.echo("\nTags")
    echo_table(sorted(model.tags.items()), ["KEY", "VALUE"])


@command.command("versions")
@click.argument("name")
@click.option("--stage", type=click.Choice(list(Stage.ALL), case_sensitive=False), default=None,
              help="Only the newest version in this stage.")
@_page_options(100, 200_000)
@tracking_uri_option
@json_option
def versions(
    name: str, stage: str | None, max_results: int, page_token: str | None, tracking_uri: str | None, as_json: bool
) -> None:
    """List the versions of model NAME, newest first."""
    c = reading_client(tracking_uri)
    if stage:
        page = PagedList(c.get_latest_versions(name, [stage]))
    else:
        c.get_registered_model(name)  # an unknown model is an error, not "No model versions."
        quote = "'" if "'" not in name else '"'
        page = c.search_model_versions(f"name = {quote}{name}{quote}", max_results, ["version_number DESC"], page_token)
    _echo_versions(page, as_json)


@command.group("alias", cls=SdkGroup)
def alias() -> None:
    """Point an alias (champion, challenger…) at a version, or remove it."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@tracking_uri_option
@json_option
def alias_set(name: str, alias_name: str, version: str, tracking_uri: str | None, as_json: bool) -> None:
    """Point ALIAS of model NAME at VERSION (moving it if it points elsewhere)."""
    c = client(tracking_uri)
    c.set_registered_model_alias(name, alias_name, version)
    if as_json:
        echo_json(c.get_model_version_by_alias(name, alias_name).to_dict())
    else:
        click.echo(f"{name}@{alias_name} -> version {version}.")


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@tracking_uri_option
@json_option
def alias_delete(name: str, alias_name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Remove ALIAS from model NAME."""
    client(tracking_uri).delete_registered_model_alias(name, alias_name)
    if as_json:
        echo_json({"name": name, "alias": alias_name, "deleted": True})
    else:
        click.echo(f"Deleted alias {name}@{alias_name}.")


@command.command("stage")
@click.argument("name")
@click.argument("version")
@click.argument("stage", type=click.Choice(list(Stage.ALL), case_sensitive=False))
@click.option("--archive-existing", is_flag=True, help="Archive the other versions in STAGE (Staging or Production).")
@tracking_uri_option
@json_option
def stage(
    name: str, version: str, stage: str, archive_existing: bool, tracking_uri: str | None, as_json: bool
) -> None:
    """Move VERSION of model NAME to STAGE (None, Staging, Production, Archived)."""
    mv = client(tracking_uri).transition_model_version_stage(name, version, stage, archive_existing)
    if as_json:
        echo_json(mv.to_dict())
    else:
        click.echo(f"{name} version {mv.version} is now in {mv.current_stage}.")


@command.command("audit")
@click.argument("name")
@tracking_uri_option
@json_option
def audit(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Every recorded change to model NAME, oldest first: who, when, what, old and new value."""
    entries = reading_client(tracking_uri).registry_audit(name)
    if as_json:
        echo_json({"entries": [e.to_dict() for e in entries]})
        return
    rows = (
        [format_time(e.timestamp), e.user_id, e.action, e.version, e.key,
         truncate(e.old_value or "", 30), truncate(e.new_value or "", 30)]
        for e in entries
    )
    echo_table(rows, ["WHEN", "WHO", "ACTION", "VERSION", "KEY", "OLD", "NEW"], empty="No recorded changes.")


@command.command("lineage")
@click.argument("uri")
@tracking_uri_option
@json_option
def lineage(uri: str, tracking_uri: str | None, as_json: bool) -> None:
    """Where the version URI names came from: run, code, datasets, parent runs.

    URI is models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE.
    """
    from ..models.lineage import lineage as find_lineage

    tree = find_lineage(uri, reading_client(tracking_uri))
    if as_json:
        echo_json(tree.to_dict())
        return
    click.echo(key_values([
        ("model", f"{tree.name} version {tree.version}"),
        ("stage", tree.current_stage),
        ("aliases", ", ".join(tree.aliases)),
        ("source", tree.source),
        ("created", format_time(tree.creation_timestamp)),
    ]))
    run = tree.run
    if run is None:
        click.echo("\nNo run recorded for this version.")
        return
    click.echo("\nRun")
    click.echo(key_values([
        ("run", f"{run.run_name} ({run.run_id})"),
        ("status", run.status),
        ("git commit", run.git_commit),
        ("entry point", run.entry_point),
    ]))
    click.echo("\nDatasets")
    echo_table(([d.name, d.context or "", d.digest, truncate(d.source, 50)] for d in run.datasets),
               ["NAME", "CONTEXT", "DIGEST", "SOURCE"])
    click.echo("\nParams")
    echo_table(sorted(run.params.items()), ["KEY", "VALUE"])
    click.echo("\nMetrics")
    echo_table(sorted(run.metrics.items()), ["KEY", "VALUE"])
    if run.ancestors():
        click.echo("\nParent runs")
        echo_table(([a.run_name, a.run_id, a.status, a.git_commit or ""] for a in run.ancestors()),
                   ["NAME", "RUN", "STATUS", "GIT COMMIT"])

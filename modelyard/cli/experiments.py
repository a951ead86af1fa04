"""``modelyard experiments list|create|delete``."""

from __future__ import annotations

import click

from ..entities import Experiment
from .output import (
    VIEWS,
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_time,
    json_option,
    reading_client,
    store_name,
    tracking_uri_option,
    view_option,
)


@click.group("experiments", cls=SdkGroup)
def command() -> None:
    """List, create and delete experiments."""


@command.command("list")
@view_option("experiments")
@click.option("--filter", "filter_string", default=None, help="e.g. \"name LIKE 'cancer%'\" or \"tags.team = 'x'\".")
@tracking_uri_option
@json_option
def list_(view: str, filter_string: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List experiments."""
    experiments = reading_client(tracking_uri).search_experiments(view_type=VIEWS[view], filter_string=filter_string)
    if as_json:
        echo_json({"experiments": [e.to_dict() for e in experiments]})
        return
    shown = "" if view == "active" else f"{view} "
    echo_table((_row(e) for e in experiments), ["ID", "NAME", "STAGE", "CREATED", "ARTIFACT LOCATION"],
               empty=f"No {shown}experiments{' match' if filter_string else ''} in the store at {store_name(tracking_uri)}.")


def _row(e: Experiment) -> list[object]:
    return [e.experiment_id, e.name, e.lifecycle_stage, format_time(e.creation_time), e.artifact_location]


@command.command("create")
@click.argument("name")
@click.option("--artifact-location", default=None, help="Where the runs' artifacts go. Default: the store's root.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="An experiment tag (repeatable).")
@tracking_uri_option
@json_option
def create(name: str, artifact_location: str | None, tags: tuple[str, ...], tracking_uri: str | None, as_json: bool) -> None:
    """Create an experiment called NAME and print its id."""
    experiment_id = client(tracking_uri).create_experiment(name, artifact_location, _parse_tags(tags))
    if as_json:
        echo_json({"experiment_id": experiment_id})
    else:
        click.echo(f"Created experiment {name!r} with id {experiment_id}.")


def _parse_tags(tags: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{tag!r} is not KEY=VALUE.", param_hint="--tag")
        parsed[key] = value
    return parsed


@command.command("delete")
@click.argument("experiment_id")
@tracking_uri_option
@json_option
def delete(experiment_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Delete the experiment EXPERIMENT_ID (a soft delete: it can be restored)."""
    client(tracking_uri).delete_experiment(experiment_id)
    if as_json:
        echo_json({"experiment_id": experiment_id, "lifecycle_stage": "deleted"})
    else:
        click.echo(f"Deleted experiment {experiment_id}.")

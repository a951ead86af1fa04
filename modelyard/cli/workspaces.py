"""``modelyard workspaces``: MLflow 3.17's workspaces (dev, staging, prod on one server) and their protected aliases."""

from __future__ import annotations

from typing import Any

import click

from .output import SdkGroup, client, echo_json, echo_table, json_option, tracking_uri_option


def _call(tracking_uri: str | None, op_name: str, **fields: Any) -> dict[str, Any]:
    from ..api import schemas as s
    from ..api import workspaces as w

    op = {o.name: o for o in w.t}[op_name]
    request = op.request(**fields)
    assert isinstance(request, s.Request)
    # No Client methods: the table's operation, through the Client's transport (as `modelyard permissions`).
    return client(tracking_uri)._call(op, request)


@click.group("workspaces", cls=SdkGroup)
def command() -> None:
    """Workspaces: experiments and registered models kept apart (the client picks one with mlflow.set_workspace)."""


@command.command("list")
@tracking_uri_option
@json_option
def list_(tracking_uri: str | None, as_json: bool) -> None:
    """The workspaces you may read."""
    found = _call(tracking_uri, "list_workspaces").get("workspaces", [])
    if as_json:
        echo_json({"workspaces": found})
    else:
        echo_table([(w["name"], w.get("description") or "", ", ".join(w.get("protected_aliases", [])))
                    for w in found], ["name", "description", "protected aliases"])


@command.command("create")
@click.argument("name")
@click.option("--description", default=None, help="What the workspace is for.")
@tracking_uri_option
def create(name: str, description: str | None, tracking_uri: str | None) -> None:
    """Create workspace NAME (admins)."""
    _call(tracking_uri, "create_workspace", name=name, description=description)
    click.echo(f"Created workspace {name}.")


@command.command("delete")
@click.argument("name")
@click.option("--move-to-default", is_flag=True, help="Move its experiments and models to the default workspace"
              " (else only an empty workspace is deleted).")
@tracking_uri_option
def delete(name: str, move_to_default: bool, tracking_uri: str | None) -> None:
    """Delete workspace NAME (admins)."""
    _call(tracking_uri, "delete_workspace", workspace_name=name, mode="SET_DEFAULT" if move_to_default else None)
    click.echo(f"Deleted workspace {name}.")


def _protect(name: str, alias: str, protected: bool, tracking_uri: str | None) -> list[str]:
    answer = _call(tracking_uri, "set_workspace_protected_alias", workspace=name, alias=alias, protected=protected)
    return list(answer.get("protected_aliases", []))


@command.command("protect-alias")
@click.argument("name")
@click.argument("alias")
@tracking_uri_option
def protect_alias(name: str, alias: str, tracking_uri: str | None) -> None:
    """Protect ALIAS on every registered model of workspace NAME (MANAGE on the workspace)."""
    click.echo(f"{name}: protected aliases {', '.join(_protect(name, alias, True, tracking_uri))}.")


@command.command("unprotect-alias")
@click.argument("name")
@click.argument("alias")
@tracking_uri_option
def unprotect_alias(name: str, alias: str, tracking_uri: str | None) -> None:
    """Lift the protection of ALIAS across workspace NAME (MANAGE on the workspace)."""
    click.echo(f"{name}: protected aliases {', '.join(_protect(name, alias, False, tracking_uri)) or 'none'}.")

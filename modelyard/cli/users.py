"""``modelyard users|tokens|permissions``: accounts, access tokens and grants.

Against a server (``--tracking-uri http://USER:PASSWORD@host:port``, or MLFLOW_TRACKING_USERNAME /
PASSWORD / TOKEN) they need an admin, or the user themself for their own password and tokens. On
an embedded store or a database URI they act on the store directly: that is how the first admin
of a server can be made (`modelyard users create NAME --admin --tracking-uri sqlite:///...`).
"""

from __future__ import annotations

from typing import Any

import click

from .output import SdkGroup, client, echo_json, echo_table, format_time, json_option, tracking_uri_option

LEVELS = click.Choice(["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False)
RESOURCES = click.Choice(["experiment", "registered_model", "workspace"])


@click.group("users", cls=SdkGroup)
def command() -> None:
    """Accounts of a server with authentication: people and service accounts."""


@command.command("create")
@click.argument("username")
@click.option("--password", default=None, help="The password (prompted for, hidden, when left out; none for"
              " a service account).")
@click.option("--admin", is_flag=True, help="Make the account an admin (everything, everywhere).")
@click.option("--service", is_flag=True, help="A service account: no password, authenticates with tokens.")
@tracking_uri_option
@json_option
def create(username: str, password: str | None, admin: bool, service: bool, tracking_uri: str | None,
           as_json: bool) -> None:
    """Create account USERNAME."""
    if password is None and not service:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = client(tracking_uri).create_user(username, password, admin, "service" if service else "user")
    if as_json:
        echo_json({"user": user})
    else:
        kind = "service account" if service else ("admin" if admin else "user")
        click.echo(f"Created {kind} {username}.")


@command.command("list")
@tracking_uri_option
@json_option
def list_(tracking_uri: str | None, as_json: bool) -> None:
    """List every account (admins)."""
    users = client(tracking_uri).list_users()
    if as_json:
        echo_json({"users": users})
    else:
        echo_table([(u["username"], u["kind"], "yes" if u["is_admin"] else "") for u in users],
                   ("username", "kind", "admin"))


@command.command("delete")
@click.argument("username")
@tracking_uri_option
def delete(username: str, tracking_uri: str | None) -> None:
    """Delete account USERNAME with its tokens and grants."""
    client(tracking_uri).delete_user(username)
    click.echo(f"Deleted user {username}.")


@command.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="The new password (prompted for, hidden, when left out).")
@tracking_uri_option
def set_password(username: str, password: str | None, tracking_uri: str | None) -> None:
    """Set USERNAME's password (one's own, or anyone's as an admin)."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    client(tracking_uri).update_user_password(username, password)
    click.echo(f"Password of {username} changed.")


@command.command("set-admin")
@click.argument("username")
@click.argument("is_admin", type=click.BOOL)
@tracking_uri_option
def set_admin(username: str, is_admin: bool, tracking_uri: str | None) -> None:
    """Make USERNAME an admin (true) or not (false)."""
    client(tracking_uri).update_user_admin(username, is_admin)
    click.echo(f"{username} is {'now' if is_admin else 'no longer'} an admin.")


@click.group("tokens", cls=SdkGroup)
def tokens() -> None:
    """Access tokens: what scripts and services send as MLFLOW_TRACKING_TOKEN."""


@tokens.command("create")
@click.argument("name")
@click.option("--user", "username", default=None, help="Whose token (admins: anyone's). Default: yours.")
@click.option("--expires-days", type=float, default=None, help="Valid for this many days. Default: until revoked.")
@tracking_uri_option
@json_option
def token_create(name: str, username: str | None, expires_days: float | None, tracking_uri: str | None,
                 as_json: bool) -> None:
    """Create token NAME; its secret is printed this once."""
    made = client(tracking_uri).create_token(username, name, expires_days)
    if as_json:
        echo_json(made)
    else:
        click.echo(made["token"])
        click.echo(f"Token {name} (id {made['info']['id']}): shown once, keep it secret.", err=True)


@tokens.command("list")
@click.option("--user", "username", default=None, help="Whose tokens (admins: anyone's). Default: yours.")
@tracking_uri_option
@json_option
def token_list(username: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    found = client(tracking_uri).list_tokens(username)
    if as_json:
        echo_json({"tokens": found})
        return
    rows = [(t["id"], t["name"], t["prefix"] + "…", format_time(t["created_ms"]),
             format_time(t["expires_ms"]) if t["expires_ms"] else "never",
             "revoked" if t["revoked_ms"] else "active") for t in found]
    echo_table(rows, ("id", "name", "starts", "created", "expires", "state"))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.option("--user", "username", default=None, help="Whose token (admins: anyone's). Default: yours.")
@tracking_uri_option
def token_revoke(token_id: int, username: str | None, tracking_uri: str | None) -> None:
    """Revoke token TOKEN_ID: it stops working within MODELYARD_AUTH_CACHE_SECONDS."""
    client(tracking_uri).revoke_token(token_id, username)
    click.echo(f"Revoked token {token_id}.")


@click.group("permissions", cls=SdkGroup)
def permissions() -> None:
    """Grants: a user's level on an experiment or registered model."""


@permissions.command("grant")
@click.argument("username")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@click.argument("level", type=LEVELS)
@tracking_uri_option
def grant(username: str, resource_type: str, resource_id: str, level: str, tracking_uri: str | None) -> None:
    """Give USERNAME LEVEL on an experiment (by id) or a registered model (by name)."""
    client(tracking_uri).grant_permission(username, resource_type, resource_id, level.upper())
    click.echo(f"{username}: {level.upper()} on {resource_type} {resource_id}.")


@permissions.command("revoke")
@click.argument("username")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@tracking_uri_option
def revoke(username: str, resource_type: str, resource_id: str, tracking_uri: str | None) -> None:
    """Take USERNAME's grant on the resource away (the server's default applies again)."""
    client(tracking_uri).revoke_permission(username, resource_type, resource_id)
    click.echo(f"{username}: grant on {resource_type} {resource_id} revoked.")


@permissions.command("show")
@click.argument("username")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@tracking_uri_option
def show(username: str, resource_type: str, resource_id: str, tracking_uri: str | None) -> None:
    """Print USERNAME's effective level on the resource."""
    click.echo(client(tracking_uri).get_permission(username, resource_type, resource_id))


@permissions.command("list")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@tracking_uri_option
@json_option
def list_on(resource_type: str, resource_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Print every user's and group's grant on the resource (its managers and admins)."""
    from ..api import schemas_auth as s

    found = _run(tracking_uri, "LIST_RESOURCE_PERMISSIONS",
                 s.ResourcePermissions(resource_type=resource_type, resource_id=resource_id))
    if as_json:
        echo_json(found)
    else:
        echo_table([(p["kind"], p["name"], p["permission"]) for p in found.get("permissions", [])],
                   ("kind", "name", "permission"))


def _protect(name: str, alias: str, protected: bool, tracking_uri: str | None) -> list[str]:
    from ..api import schemas_auth as s
    from ..api.auth import PROTECT_ALIAS

    # No Client method yet (client/ is being reworked): the table's operation, through the Client's transport.
    answer = client(tracking_uri)._call(PROTECT_ALIAS, s.ProtectAlias(name=name, alias=alias, protected=protected))
    return list(answer.get("protected_aliases", []))


@permissions.command("protect-alias")
@click.argument("name")
@click.argument("alias")
@tracking_uri_option
def protect_alias(name: str, alias: str, tracking_uri: str | None) -> None:
    """Protect ALIAS of registered model NAME: no one (admins included) may set or delete it (MANAGE on NAME)."""
    aliases = _protect(name, alias, True, tracking_uri)
    click.echo(f"{name}: protected aliases {', '.join(aliases)}.")


@permissions.command("unprotect-alias")
@click.argument("name")
@click.argument("alias")
@tracking_uri_option
def unprotect_alias(name: str, alias: str, tracking_uri: str | None) -> None:
    """Lift the protection of ALIAS of registered model NAME (MANAGE on NAME)."""
    aliases = _protect(name, alias, False, tracking_uri)
    click.echo(f"{name}: protected aliases {', '.join(aliases) or 'none'}.")


@command.command("audit")
@click.option("--max-results", default=1000, show_default=True, help="How many entries to show.")
@tracking_uri_option
@json_option
def audit(max_results: int, tracking_uri: str | None, as_json: bool) -> None:
    """Grants, revokes, token creations and failed logins, oldest first (admins)."""
    from ..api import schemas_auth as s
    from ..api.auth import AUTH_AUDIT

    entries = client(tracking_uri)._call(AUTH_AUDIT, s.AuditPage(max_results=max_results)).get("entries", [])
    if as_json:
        echo_json({"entries": entries})
    else:
        echo_table([(format_time(e["timestamp"]), e.get("user_id") or "", e["action"], e.get("key") or "",
                     e.get("old_value") or "", e.get("new_value") or "") for e in entries],
                   ("time", "by", "action", "on", "old", "new"))


@click.group("groups", cls=SdkGroup)
def groups() -> None:
    """Groups of accounts: a grant to a group applies to its members (a member's own grant wins)."""


def _run(tracking_uri: str | None, op_name: str, request: Any) -> dict[str, Any]:
    from ..api import auth as ops

    # No Client methods yet (client/ is being reworked): the table's operation, through the Client's transport.
    return client(tracking_uri)._call(getattr(ops, op_name), request)


@groups.command("create")
@click.argument("group")
@tracking_uri_option
def group_create(group: str, tracking_uri: str | None) -> None:
    """Create group GROUP (admins)."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "CREATE_GROUP", s.GroupName(group=group))
    click.echo(f"Created group {group}.")


@groups.command("delete")
@click.argument("group")
@tracking_uri_option
def group_delete(group: str, tracking_uri: str | None) -> None:
    """Delete group GROUP with its memberships and grants (admins)."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "DELETE_GROUP", s.GroupName(group=group))
    click.echo(f"Deleted group {group}.")


@groups.command("list")
@tracking_uri_option
@json_option
def group_list(tracking_uri: str | None, as_json: bool) -> None:
    """List every group and its members (admins)."""
    from ..api import schemas_auth as s

    found = list(_run(tracking_uri, "LIST_GROUPS", s.Empty()).get("groups", []))
    if as_json:
        echo_json({"groups": found})
    else:
        echo_table([(g["name"], ", ".join(g["members"])) for g in found], ("group", "members"))


@groups.command("add")
@click.argument("group")
@click.argument("username")
@tracking_uri_option
def group_add(group: str, username: str, tracking_uri: str | None) -> None:
    """Put USERNAME in GROUP (admins)."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "ADD_MEMBER", s.GroupMember(group=group, username=username))
    click.echo(f"{username} is in group {group}.")


@groups.command("remove")
@click.argument("group")
@click.argument("username")
@tracking_uri_option
def group_remove(group: str, username: str, tracking_uri: str | None) -> None:
    """Take USERNAME out of GROUP (admins)."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "REMOVE_MEMBER", s.GroupMember(group=group, username=username))
    click.echo(f"{username} is no longer in group {group}.")


@groups.command("grant")
@click.argument("group")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@click.argument("level", type=LEVELS)
@tracking_uri_option
def group_grant(group: str, resource_type: str, resource_id: str, level: str, tracking_uri: str | None) -> None:
    """Give GROUP LEVEL on an experiment (by id) or a registered model (by name)."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "GRANT_GROUP", s.GroupPermission(group=group, resource_type=resource_type,
                                                       resource_id=resource_id, permission=level.upper()))
    click.echo(f"group {group}: {level.upper()} on {resource_type} {resource_id}.")


@groups.command("revoke")
@click.argument("group")
@click.argument("resource_type", type=RESOURCES)
@click.argument("resource_id")
@tracking_uri_option
def group_revoke(group: str, resource_type: str, resource_id: str, tracking_uri: str | None) -> None:
    """Take GROUP's grant on the resource away."""
    from ..api import schemas_auth as s

    _run(tracking_uri, "REVOKE_GROUP", s.GroupPermission(group=group, resource_type=resource_type,
                                                        resource_id=resource_id))
    click.echo(f"group {group}: grant on {resource_type} {resource_id} revoked.")

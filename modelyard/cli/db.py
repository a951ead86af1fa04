"""``modelyard db upgrade|current|check|backup``: the store's schema and its backups, as ``mlflow db``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .output import SdkCommand, SdkGroup, echo_json, json_option, key_values

DEFAULT_STORE = os.path.join(".modelyard", "modelyard.db")


F = TypeVar("F", bound=Callable[..., Any])


def store_uri_option(fn: F) -> F:
    return click.option(
        "--backend-store-uri",
        default=None,
        metavar="URI",
        help="sqlite:///PATH, postgresql://USER@HOST:PORT/DB or a store folder. Default: MODELYARD_BACKEND_STORE_URI,"
        " else ./.modelyard/modelyard.db (the server's default).",
    )(fn)


def resolve_store_uri(given: str | None) -> str:
    """The database URI a command works on: ``given``, else the server's setting, else ./.modelyard's file."""
    from ..client.uri import embedded_location
    from ..settings import Settings

    uri = given or Settings.from_env().backend_store_uri or os.path.abspath(DEFAULT_STORE)
    if "://" not in uri and not uri.startswith("sqlite:"):
        if uri.endswith(".db") or os.path.isfile(uri):
            return "sqlite:///" + os.path.abspath(uri)  # a database file named as a path
        return embedded_location(uri).backend_store_uri  # a store folder: its modelyard.db
    return uri


class _StoreErrors:
    """A database that cannot be reached or opened is one ``Error:`` line naming the fix, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        import sqlite3

        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except (DBAPIError, sqlite3.Error) as exc:
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(
                f"Cannot use the store's database: {cause}. Check --backend-store-uri (or MODELYARD_BACKEND_STORE_URI)"
                " and that the database server is running.") from exc


class StoreCommand(_StoreErrors, SdkCommand):
    """A command over the store's database: SDK errors and database errors as one ``Error:`` line."""


class StoreGroup(_StoreErrors, SdkGroup):
    command_class = StoreCommand


@click.group("db", cls=StoreGroup)
def command() -> None:
    """Upgrade, inspect and back up the store's database."""


@command.command("upgrade")
@store_uri_option
def upgrade(backend_store_uri: str | None) -> None:
    """Migrate the store's database to the newest schema (creating it if new).

    Safe to run from several processes at once, and while servers run: one migrates, the others
    wait for it and find the work done. Servers migrate when they start as well; run this first to
    upgrade once, before the servers of a new release start.
    """
    from ..store.upgrade import upgrade as run_upgrade

    before, after = run_upgrade(resolve_store_uri(backend_store_uri))
    if before.current == after.current:
        click.echo(f"{after.uri} is at schema revision {after.current}, the newest: nothing to do.")
    else:
        click.echo(f"Upgraded {after.uri} from schema revision {before.current or '(empty)'} to {after.current}.")


@command.command("current")
@store_uri_option
@json_option
def current(backend_store_uri: str | None, as_json: bool) -> None:
    """Print the store's schema revision and the newest this modelyard knows. Changes nothing."""
    from ..store.upgrade import revision

    state = revision(resolve_store_uri(backend_store_uri))
    if as_json:
        echo_json(state.to_dict())
        return
    click.echo(key_values([("store", state.uri), ("revision", state.current or "(empty)"), ("newest", state.head),
                           ("up to date", "yes" if state.up_to_date else "no: run modelyard db upgrade")]))


@command.command("check")
@store_uri_option
def check(backend_store_uri: str | None) -> None:
    """Exit 0 if the store's schema is the newest, else 1 saying what to run. Changes nothing."""
    from ..store.upgrade import revision

    state = revision(resolve_store_uri(backend_store_uri))
    if not state.up_to_date:
        raise click.ClickException(
            f"{state.uri} is at schema revision {state.current or '(empty)'}; this modelyard needs {state.head}."
            " Run: modelyard db upgrade --backend-store-uri URI")
    click.echo(f"{state.uri} is at schema revision {state.current}, the newest.")


@command.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@store_uri_option
@click.option("--overwrite", is_flag=True, help="Replace PATH if it exists (the old file stays until the copy is done).")
@json_option
def backup(path: str, backend_store_uri: str | None, overwrite: bool, as_json: bool) -> None:
    """Copy a SQLite store's database to PATH, consistently, while servers keep writing to it.

    Uses SQLite's online backup API: the copy is the database as of one moment, checked before it
    is put at PATH. Artifacts are files: copy the artifact folder too. For PostgreSQL this prints
    how to use pg_dump and exits with status 2.
    """
    from ..store.backup import NotSqlite
    from ..store.backup import backup as run_backup

    try:
        done = run_backup(resolve_store_uri(backend_store_uri), path, overwrite=overwrite)
    except NotSqlite as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    if as_json:
        echo_json(done.to_dict())
    else:
        click.echo(f"Backed up {done.source} (schema revision {done.revision or '(empty)'}) to {done.path}:"
                   f" {done.bytes:,} bytes in {done.seconds:.1f} s.")

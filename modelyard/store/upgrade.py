"""``modelyard db upgrade|current|check``: a store's schema revision, and bringing it to the newest.

The upgrade itself is :func:`modelyard.store.migrate.migrate`, the one every
store runs when it opens: several processes upgrading one database at once
serialise on a write lock (SQLite ``BEGIN IMMEDIATE`` on the file, a
PostgreSQL ``pg_advisory_xact_lock``) and each re-checks the revision under it,
so exactly one runs the migrations and the others find them done. Here it is
wrapped with what an operator needs to hear: the revision before and after,
and a clear refusal for a database at a revision this modelyard does not know
(a newer modelyard's, or an MLflow database's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Engine, make_url

from ..errors import InvalidState, ResourceDoesNotExist
from .engine import make_engine, normalize_db_uri
from .migrate import _HERE, HEAD, current_revision, migrate


@dataclass(frozen=True)
class SchemaRevision:
    """Where a store's schema is: ``current`` (None for an empty database) and the newest, ``head``."""

    uri: str  # the store, its password hidden
    current: str | None
    head: str = HEAD

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def to_dict(self) -> dict[str, object]:
        return {"store": self.uri, "current": self.current, "head": self.head, "up_to_date": self.up_to_date}


def shown(uri: str) -> str:
    """``uri`` fit to print: the password hidden."""
    try:
        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (a URI we cannot parse is shown as given; make_engine will say why)
        return uri


def known_revisions() -> list[str]:
    """The revisions this modelyard's migrations know, oldest first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", _HERE)
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


def revision(uri: str) -> SchemaRevision:
    """The revision of an existing store, without changing it (a missing SQLite file is an error)."""
    engine = _engine(uri, must_exist=True)
    try:
        with engine.connect() as conn:
            return SchemaRevision(shown(uri), current_revision(conn))
    finally:
        engine.dispose()


def upgrade(uri: str) -> tuple[SchemaRevision, SchemaRevision]:
    """Migrate the store at ``uri`` to :data:`HEAD` (creating a new SQLite file); (before, after)."""
    engine = _engine(uri, must_exist=False)
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
        if before is not None and before != HEAD and before not in known_revisions():
            raise InvalidState(
                f"The database at {shown(uri)} is at schema revision {before!r}, which this modelyard does not know"
                f" (its newest is {HEAD}). Upgrade modelyard to the version that wrote it; an MLflow database is"
                " copied in with `modelyard import mlflow`, not upgraded.")
        migrate(engine)
        with engine.connect() as conn:
            after = current_revision(conn)
    finally:
        engine.dispose()
    return SchemaRevision(shown(uri), before), SchemaRevision(shown(uri), after)


def sqlite_path(uri: str) -> str | None:
    """The file of a ``sqlite:///`` URI; None for PostgreSQL and in-memory SQLite."""
    url = make_url(normalize_db_uri(uri))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(url.database)


def _engine(uri: str, must_exist: bool) -> Engine:
    path = sqlite_path(uri)
    if must_exist and path is not None and not os.path.exists(path):
        raise ResourceDoesNotExist(
            f"No store at {shown(uri)}: the file {path} does not exist. Check --backend-store-uri, or create the"
            " store with `modelyard db upgrade`.")
    return make_engine(uri)

"""Workspaces in SQL: MLflow 3.17's, to keep dev, staging and prod apart on one server.

``workspaces`` holds each workspace's name, description, default artifact root and protected
aliases (comma-separated: an alias protected on every registered model of the workspace).
Experiments and registered models name theirs in a ``workspace`` column (``default`` for what
existed before, migration 0015). Their names are unique within a workspace, not across the
server (migration 0020, as MLflow 3.17): a name is resolved in :func:`scope`, the workspace of
the request being handled (:data:`current`, set by the server from MLflow's
``X-MLFLOW-WORKSPACE`` header), else ``default``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import BigInteger, Column, String, Table, Text, case, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .registry_schema import registered_models
from .schema import experiments, metadata

if TYPE_CHECKING:
    from .visibility import Visibility

DEFAULT = "default"
# The workspace of the request being handled (MLflow's X-MLFLOW-WORKSPACE header; mlflow.set_workspace).
current: contextvars.ContextVar[str | None] = contextvars.ContextVar("modelyard_workspace", default=None)


def scope() -> str:
    """The workspace names are resolved in and new experiments and registered models go to."""
    return current.get() or DEFAULT


@contextlib.contextmanager
def within(workspace: str) -> Iterator[None]:
    """Resolve names in ``workspace`` meanwhile: work done for a workspace outside a request (a scheduled
    monitor run) lands there, as the request's would."""
    token = current.set(workspace)
    try:
        yield
    finally:
        current.reset(token)


# A grant on a registered model names it by its key: its name in the default workspace (as before 0020),
# ``<workspace>:<name>`` in another. Model names cannot hold ':' (service.registry.check_model_name), so a key
# names one model, and a name given with a ':' is a key already (the admin page grants across workspaces).
# Monitors are stored by such a key too (their names cannot hold ':' either): each workspace has its own.
def name_key(name: str, workspace: str | None = None) -> str:
    """The key of ``name`` (a registered model's, a monitor's) of ``workspace`` (default: :func:`scope`)."""
    if ":" in name:
        return name
    workspace = workspace or scope()
    return name if workspace == DEFAULT else f"{workspace}:{name}"


model_key = name_key  # the grant key of a registered model, and how rows that outlive a request name it


def split_model_key(key: str) -> tuple[str, str]:
    """The workspace and name of a registered model's grant key."""
    workspace, _, name = key.rpartition(":")
    return workspace or DEFAULT, name


def shown_name(key: str) -> str:
    """How a model's key is shown to a request: its bare name when the model is of :func:`scope`'s workspace,
    else the key itself (never the same as a name of this workspace)."""
    workspace, name = split_model_key(key)
    return name if workspace == scope() else key


def key_in_scope(key_column: Any) -> Any:
    """True for rows whose registered-model key (``key_column``: a monitor's, a policy's, a rollout's model)
    names a model of :func:`scope`'s workspace."""
    workspace = scope()
    return key_column.not_like("%:%") if workspace == DEFAULT else key_column.like(f"{workspace}:%")


def model_key_column(name_column: Any, workspace_column: Any) -> Any:
    """:func:`model_key` in SQL, of the columns of the searched rows."""
    return case((workspace_column == DEFAULT, name_column), else_=workspace_column + literal(":") + name_column)

workspaces = Table(
    "workspaces",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("description", Text, nullable=True),
    Column("default_artifact_root", Text, nullable=True),
    Column("protected_aliases", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
)


class WorkspaceRow(NamedTuple):
    name: str
    description: str | None
    default_artifact_root: str | None
    protected_aliases: tuple[str, ...]
    created_ms: int


def _row(row: Any) -> WorkspaceRow:
    aliases = tuple(a for a in (row.protected_aliases or "").split(",") if a)
    return WorkspaceRow(row.name, row.description, row.default_artifact_root, aliases, row.created_ms)


class WorkspaceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> WorkspaceRow | None:
        with self.db.read() as conn:
            row = conn.execute(select(workspaces).where(workspaces.c.name == name)).first()
        return None if row is None else _row(row)

    def all(self, visible: Visibility | None = None) -> list[WorkspaceRow]:
        """Every workspace, by name (``visible``: those the caller may read)."""
        q = select(workspaces).order_by(workspaces.c.name)
        if visible is not None:
            from .visibility import readable  # it builds on this module's scope

            q = q.where(readable(visible, "workspace", workspaces.c.name))
        with self.db.read() as conn:
            return [_row(r) for r in conn.execute(q)]

    def create(self, name: str, description: str | None, default_artifact_root: str | None, now: int) -> bool:
        """False if the name is taken."""
        with self.db.write() as conn:
            if conn.execute(select(workspaces.c.name).where(workspaces.c.name == name)).first():
                return False
            conn.execute(insert(workspaces).values(name=name, description=description,
                                                   default_artifact_root=default_artifact_root, created_ms=now))
        return True

    def update(self, name: str, **values: Any) -> bool:
        if "protected_aliases" in values:
            values["protected_aliases"] = ",".join(values["protected_aliases"]) or None
        with self.db.write() as conn:
            return bool(conn.execute(update(workspaces).where(workspaces.c.name == name).values(**values)).rowcount)

    def used(self, name: str) -> int:
        """How many experiments and registered models belong to the workspace."""
        with self.db.read() as conn:
            return sum(int(conn.execute(select(func.count()).select_from(t).where(t.c.workspace == name)).scalar() or 0)
                       for t in (experiments, registered_models))

    def clashes(self, name: str, move_to: str) -> list[str]:
        """Names of experiments and registered models of workspace ``name`` that ``move_to`` already uses."""
        found: list[str] = []
        with self.db.read() as conn:
            for t in (experiments, registered_models):
                there = select(t.c.name).where(t.c.workspace == move_to)
                found += [str(r[0]) for r in conn.execute(
                    select(t.c.name).where(t.c.workspace == name, t.c.name.in_(there)).order_by(t.c.name))]
        return found

    def delete(self, name: str, move_to: str | None = None) -> bool:
        """Delete a workspace; ``move_to``: first move its experiments and registered models there (False, and
        nothing done, if a name clashes there)."""
        try:
            with self.db.write() as conn:
                if move_to is not None:
                    for t in (experiments, registered_models):
                        conn.execute(update(t).where(t.c.workspace == name).values(workspace=move_to))
                return bool(conn.execute(delete(workspaces).where(workspaces.c.name == name)).rowcount)
        except IntegrityError:
            return False

    def of(self, resource_type: str, resource_id: str) -> str | None:
        """The workspace of an experiment (by id) or a registered model (by name, in :func:`scope`, or by
        :func:`model_key`); None if not there."""
        if resource_type == "experiment":
            if not resource_id.isdigit() or len(resource_id) > 18:
                return None
            q = select(experiments.c.workspace).where(experiments.c.experiment_id == int(resource_id))
        elif resource_type == "registered_model":
            workspace, name = split_model_key(model_key(resource_id))
            q = select(registered_models.c.workspace).where(registered_models.c.name == name,
                                                            registered_models.c.workspace == workspace)
        else:
            return None
        with self.db.read() as conn:
            found = conn.execute(q).scalar()
        return None if found is None else str(found)

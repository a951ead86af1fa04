"""Reading the model registry: search, the audit trail, models and versions with their tags and aliases.

The read half of :class:`~modelyard.store.registry.RegistryStore` (a base class
of it): a page of models or versions is loaded in a handful of queries,
whatever its size.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, select

from ..entities.query import Comparison, OrderKey
from ..entities.registry import ModelVersion, RegisteredModel, RegistryAuditEntry, Stage
from . import registry_schema as r
from .database import Database
from .registry_search import model_version_search_select, registered_model_search_select
from .visibility import Visibility
from .workspaces import model_key, split_model_key

_VERSION_COLUMNS = (
    r.model_versions.c.id, r.registered_models.c.name, r.model_versions.c.version,
    r.model_versions.c.creation_time, r.model_versions.c.last_updated_time, r.model_versions.c.description,
    r.model_versions.c.user_id, r.model_versions.c.current_stage, r.model_versions.c.source,
    r.model_versions.c.run_id, r.model_versions.c.status, r.model_versions.c.status_message,
    r.model_versions.c.run_link, r.model_versions.c.model_id,
)


class RegistryReads:
    """Search and loading for :class:`~modelyard.store.registry.RegistryStore`."""

    db: Database

    def search_models(
        self, filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, include_prompts: bool,
        visible: Visibility | None = None, workspace: str | None = None,
    ) -> list[RegisteredModel]:
        query = registered_model_search_select(filters, order_by, limit, offset, self.db.dialect,
                                               include_prompts=include_prompts, visible=visible,
                                               workspace=workspace)
        with self.db.read() as conn:
            return self._load_models(conn, [row[0] for row in conn.execute(query)])

    def search_versions(
        self, filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, include_prompts: bool,
        visible: Visibility | None = None, workspace: str | None = None,
    ) -> list[ModelVersion]:
        query = model_version_search_select(filters, order_by, limit, offset, self.db.dialect,
                                            include_prompts=include_prompts, visible=visible,
                                               workspace=workspace)
        with self.db.read() as conn:
            ids = [row[0] for row in conn.execute(query)]
            by_id = {v[0]: v[1] for v in self._load_versions_by_pk(conn, ids)}
        return [by_id[i] for i in ids if i in by_id]

    def audit(self, name: str, limit: int, offset: int) -> list[RegistryAuditEntry]:
        """Changes to every model that has been called ``name`` in the request's workspace (or the workspace a
        key ``<workspace>:<name>`` names), across renames and after deletion."""
        c = r.registry_audit.c
        workspace, bare = split_model_key(model_key(name))
        ever_named = select(c.registered_model_id).where(c.name == bare, c.workspace == workspace).distinct()
        with self.db.read() as conn:
            rows = conn.execute(select(r.registry_audit).where(c.registered_model_id.in_(ever_named))
                                .order_by(c.id).limit(limit).offset(offset)).all()
        return [
            RegistryAuditEntry(row.id, row.timestamp, row.user_id, row.name,
                               None if row.version is None else str(row.version),
                               row.action, row.key, row.old_value, row.new_value)
            for row in rows
        ]

    def _load_models(self, conn: Connection, pks: list[int]) -> list[RegisteredModel]:
        if not pks:
            return []
        c = r.registered_models.c
        rows = {row.id: row for row in conn.execute(select(r.registered_models).where(c.id.in_(pks)))}
        tags: dict[int, dict[str, str]] = {}
        t = r.registered_model_tags.c
        for model_pk, key, value in conn.execute(select(t.registered_model_id, t.key, t.value)
                                                 .where(t.registered_model_id.in_(pks)).order_by(t.key)):
            tags.setdefault(model_pk, {})[key] = value
        aliases: dict[int, dict[str, str]] = {}
        a, v = r.registered_model_aliases.c, r.model_versions.c
        for model_pk, alias, version in conn.execute(
            select(a.registered_model_id, a.alias, v.version)
            .select_from(r.registered_model_aliases.join(r.model_versions, v.id == a.model_version_id))
            .where(a.registered_model_id.in_(pks)).order_by(a.alias)
        ):
            aliases.setdefault(model_pk, {})[alias] = str(version)
        latest = self._latest(conn, pks)
        return [
            RegisteredModel(
                name=rows[pk].name, creation_timestamp=rows[pk].creation_time,
                last_updated_timestamp=rows[pk].last_updated_time, description=rows[pk].description,
                latest_versions=latest.get(pk, []), tags=tags.get(pk, {}), aliases=aliases.get(pk, {}),
            )
            for pk in pks if pk in rows
        ]

    def _latest(self, conn: Connection, model_pks: list[int]) -> dict[int, list[ModelVersion]]:
        """The newest version in each stage, per model, in stage order (None, Staging, Production, Archived)."""
        v = r.model_versions.c
        newest = (
            select(v.registered_model_id.label("m"), func.max(v.version).label("n"))
            .where(v.registered_model_id.in_(model_pks)).group_by(v.registered_model_id, v.current_stage)
            .subquery()
        )
        out: dict[int, list[ModelVersion]] = {}
        rows = conn.execute(
            select(v.id, v.registered_model_id)
            .select_from(r.model_versions.join(newest, and_(v.registered_model_id == newest.c.m, v.version == newest.c.n)))
        ).all()
        loaded = dict(self._load_versions_by_pk(conn, [row[0] for row in rows]))
        for pk, model_pk in rows:
            out.setdefault(model_pk, []).append(loaded[pk])
        for versions in out.values():
            versions.sort(key=lambda mv: Stage.ALL.index(mv.current_stage) if mv.current_stage in Stage.ALL else 9)
        return out

    def _load_versions(self, conn: Connection, where: list[Any]) -> list[ModelVersion]:
        ids = [row[0] for row in conn.execute(select(r.model_versions.c.id).where(*where))]
        return [mv for _, mv in self._load_versions_by_pk(conn, ids)]

    def _load_versions_by_pk(self, conn: Connection, pks: list[int]) -> list[tuple[int, ModelVersion]]:
        if not pks:
            return []
        v = r.model_versions.c
        rows = conn.execute(
            select(*_VERSION_COLUMNS)
            .select_from(r.model_versions.join(r.registered_models, r.registered_models.c.id == v.registered_model_id))
            .where(v.id.in_(pks))
        ).all()
        tags: dict[int, dict[str, str]] = {}
        t = r.model_version_tags.c
        for pk, key, value in conn.execute(select(t.model_version_id, t.key, t.value)
                                           .where(t.model_version_id.in_(pks)).order_by(t.key)):
            tags.setdefault(pk, {})[key] = value
        aliases: dict[int, list[str]] = {}
        a = r.registered_model_aliases.c
        for pk, alias in conn.execute(select(a.model_version_id, a.alias)
                                      .where(a.model_version_id.in_(pks)).order_by(a.alias)):
            aliases.setdefault(pk, []).append(alias)
        return [
            (row.id, ModelVersion(
                name=row.name, version=str(row.version), creation_timestamp=row.creation_time,
                last_updated_timestamp=row.last_updated_time, description=row.description, user_id=row.user_id,
                current_stage=row.current_stage, source=row.source, run_id=row.run_id, status=row.status,
                status_message=row.status_message, tags=tags.get(row.id, {}), run_link=row.run_link,
                aliases=aliases.get(row.id, []), model_id=row.model_id,
            ))
            for row in rows
        ]

"""The model registry in SQL: every change and its audit entry in one transaction.

Methods take what the service already validated (a name, an integer
version, a canonical stage) and raise MLflow's "not found" errors. Each
write records who did it, when, and the old and new value in
``registry_audit``, and the webhook events it announces go into the
delivery outbox in the same transaction (:func:`~.webhooks.enqueue_event`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..entities_registry import ModelVersion, RegisteredModel, RegistryAuditEntry, Stage
from ..errors import ResourceAlreadyExists, ResourceDoesNotExist
from ..query import Comparison, OrderKey
from . import registry_schema as r
from .database import Database
from .registry_search import model_version_search_select, registered_model_search_select
from .webhooks import enqueue_event

_VERSION_COLUMNS = (
    r.model_versions.c.id, r.registered_models.c.name, r.model_versions.c.version,
    r.model_versions.c.creation_time, r.model_versions.c.last_updated_time, r.model_versions.c.description,
    r.model_versions.c.user_id, r.model_versions.c.current_stage, r.model_versions.c.source,
    r.model_versions.c.run_id, r.model_versions.c.status, r.model_versions.c.status_message,
    r.model_versions.c.run_link, r.model_versions.c.model_id,
)


class ModelRow(NamedTuple):
    pk: int
    name: str
    description: str | None


class VersionRow(NamedTuple):
    pk: int
    version: int
    current_stage: str
    description: str | None
    source: str | None
    storage_location: str | None
    run_id: str | None
    model_id: str | None


def model_not_found(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int | str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


class RegistryStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert_model_tag = db.upsert(
            "registered_model_tags", ("registered_model_id", "key", "value"), ("registered_model_id", "key"))
        self._upsert_version_tag = db.upsert(
            "model_version_tags", ("model_version_id", "key", "value"), ("model_version_id", "key"))
        self._upsert_alias = db.upsert(
            "registered_model_aliases", ("registered_model_id", "alias", "model_version_id"),
            ("registered_model_id", "alias"))

    # ---- rows and the audit trail ---------------------------------------------

    def model_row(self, conn: Connection, name: str) -> ModelRow:
        c = r.registered_models.c
        found = conn.execute(select(c.id, c.name, c.description).where(c.name == name)).first()
        if found is None:
            raise model_not_found(name)
        return ModelRow(*found)

    def version_row(self, conn: Connection, model: ModelRow, version: int) -> VersionRow:
        c = r.model_versions.c
        found = conn.execute(
            select(c.id, c.version, c.current_stage, c.description, c.source, c.storage_location, c.run_id, c.model_id)
            .where(c.registered_model_id == model.pk, c.version == version)
        ).first()
        if found is None:
            raise version_not_found(model.name, version)
        return VersionRow(*found)

    def _audit(
        self, conn: Connection, who: str | None, now: int, model: ModelRow, action: str,
        version: int | None = None, key: str | None = None, old: Any = None, new: Any = None,
    ) -> None:
        conn.execute(insert(r.registry_audit).values(
            timestamp=now, user_id=who, registered_model_id=model.pk, name=model.name, version=version,
            action=action, key=key, old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
        ))

    def _touch(self, conn: Connection, model: ModelRow, now: int, **values: Any) -> None:
        conn.execute(update(r.registered_models).where(r.registered_models.c.id == model.pk)
                     .values(last_updated_time=now, **values))

    # ---- registered models ----------------------------------------------------

    def create_model(
        self, name: str, description: str | None, tags: dict[str, str], who: str | None, now: int
    ) -> RegisteredModel:
        try:
            with self.db.write() as conn:
                pk = conn.execute(insert(r.registered_models).values(
                    name=name, description=description, creation_time=now, last_updated_time=now, next_version=1,
                )).inserted_primary_key[0]
                model = ModelRow(pk, name, description)
                self._audit(conn, who, now, model, "create_registered_model", new=description)
                for key, value in tags.items():
                    conn.exec_driver_sql(self._upsert_model_tag, (pk, key, value))
                    self._audit(conn, who, now, model, "set_registered_model_tag", key=key, new=value)
                enqueue_event(conn, "registered_model.created",
                              {"name": name, "tags": dict(tags), "description": description}, now)
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.") from exc
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return self._load_models(conn, [self.model_row(conn, name).pk])[0]

    def rename_model(self, name: str, new_name: str, who: str | None, now: int) -> RegisteredModel:
        try:
            with self.db.write() as conn:
                model = self.model_row(conn, name)
                self._touch(conn, model, now, name=new_name)
                conn.execute(update(r.model_versions).where(r.model_versions.c.registered_model_id == model.pk)
                             .values(last_updated_time=now))
                self._audit(conn, who, now, model._replace(name=new_name), "rename_registered_model",
                            old=name, new=new_name)
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.") from exc
        return self.get_model(new_name)

    def update_model(self, name: str, description: str | None, who: str | None, now: int) -> RegisteredModel:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            self._touch(conn, model, now, description=description)
            self._audit(conn, who, now, model, "update_registered_model", key="description",
                        old=model.description, new=description)
        return self.get_model(name)

    def delete_model(self, name: str, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            conn.execute(delete(r.registered_models).where(r.registered_models.c.id == model.pk))
            self._audit(conn, who, now, model, "delete_registered_model", old=name)

    def set_model_tag(self, name: str, key: str, value: str | None, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            t = r.registered_model_tags.c
            old = conn.execute(select(t.value).where(t.registered_model_id == model.pk, t.key == key)).scalar()
            conn.exec_driver_sql(self._upsert_model_tag, (model.pk, key, value))
            self._audit(conn, who, now, model, "set_registered_model_tag", key=key, old=old, new=value)

    def delete_model_tag(self, name: str, key: str, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            t = r.registered_model_tags.c
            old = conn.execute(select(t.value).where(t.registered_model_id == model.pk, t.key == key)).first()
            if old is not None:
                conn.execute(delete(r.registered_model_tags).where(t.registered_model_id == model.pk, t.key == key))
                self._audit(conn, who, now, model, "delete_registered_model_tag", key=key, old=old[0])

    # ---- model versions -------------------------------------------------------

    def create_version(
        self, name: str, *, source: str, storage_location: str | None, run_id: str | None, run_link: str | None,
        description: str | None, model_id: str | None, tags: dict[str, str], who: str | None, now: int,
    ) -> ModelVersion:
        """Number the version from the model's counter: safe with concurrent creators on both databases."""
        rm = r.registered_models.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            # The UPDATE locks the model's row (PostgreSQL) or the database (SQLite) until commit.
            self._touch(conn, model, now, next_version=rm.next_version + 1)
            version = conn.execute(select(rm.next_version).where(rm.id == model.pk)).scalar_one() - 1
            pk = conn.execute(insert(r.model_versions).values(
                registered_model_id=model.pk, version=version, creation_time=now, last_updated_time=now,
                description=description, user_id=who, current_stage=Stage.NONE, source=source,
                storage_location=storage_location, run_id=run_id, run_link=run_link, model_id=model_id,
                status="READY",
            )).inserted_primary_key[0]
            self._audit(conn, who, now, model, "create_model_version", version=version, key="source", new=source)
            for key, value in tags.items():
                conn.exec_driver_sql(self._upsert_version_tag, (pk, key, value))
                self._audit(conn, who, now, model, "set_model_version_tag", version=version, key=key, new=value)
            enqueue_event(conn, "model_version.created", {
                "name": name, "version": str(version), "source": source, "run_id": run_id, "tags": dict(tags),
                "description": description}, now)
        return self.get_version(name, version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            model = self.model_row(conn, name)
            found = self._load_versions(conn, [r.model_versions.c.registered_model_id == model.pk,
                                               r.model_versions.c.version == version])
        if not found:
            raise version_not_found(name, version)
        return found[0]

    def version_locations(self, name: str, version: int) -> VersionRow:
        with self.db.read() as conn:
            return self.version_row(conn, self.model_row(conn, name), version)

    def update_version(self, name: str, version: int, description: str | None, who: str | None, now: int) -> ModelVersion:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            conn.execute(update(r.model_versions).where(r.model_versions.c.id == row.pk)
                         .values(description=description, last_updated_time=now))
            self._audit(conn, who, now, model, "update_model_version", version=version, key="description",
                        old=row.description, new=description)
        return self.get_version(name, version)

    def transition_stage(
        self, name: str, version: int, stage: str, archive_existing: bool, who: str | None, now: int
    ) -> ModelVersion:
        c = r.model_versions.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            if archive_existing:
                others = conn.execute(select(c.id, c.version, c.current_stage).where(
                    c.registered_model_id == model.pk, c.version != version, c.current_stage == stage)).all()
                for pk, other, old_stage in others:
                    conn.execute(update(r.model_versions).where(c.id == pk)
                                 .values(current_stage=Stage.ARCHIVED, last_updated_time=now))
                    self._audit(conn, who, now, model, "transition_model_version_stage", version=other,
                                key="current_stage", old=old_stage, new=Stage.ARCHIVED)
                    _stage_changed(conn, name, other, old_stage, Stage.ARCHIVED, now)
            conn.execute(update(r.model_versions).where(c.id == row.pk)
                         .values(current_stage=stage, last_updated_time=now))
            self._touch(conn, model, now)
            self._audit(conn, who, now, model, "transition_model_version_stage", version=version,
                        key="current_stage", old=row.current_stage, new=stage)
            _stage_changed(conn, name, version, row.current_stage, stage, now)
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int, who: str | None, now: int) -> None:
        """Delete a version with its tags and aliases; its number is never reused."""
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            a = r.registered_model_aliases.c
            for (alias,) in conn.execute(select(a.alias).where(a.model_version_id == row.pk)).all():
                self._audit(conn, who, now, model, "delete_registered_model_alias", version=version, key=alias,
                            old=version)
            conn.execute(delete(r.registered_model_aliases).where(a.model_version_id == row.pk))
            conn.execute(delete(r.model_version_tags).where(r.model_version_tags.c.model_version_id == row.pk))
            conn.execute(delete(r.model_versions).where(r.model_versions.c.id == row.pk))
            self._touch(conn, model, now)
            self._audit(conn, who, now, model, "delete_model_version", version=version, key="source", old=row.source)

    def set_version_tag(self, name: str, version: int, key: str, value: str, who: str | None, now: int) -> None:
        t = r.model_version_tags.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            old = conn.execute(select(t.value).where(t.model_version_id == row.pk, t.key == key)).scalar()
            conn.exec_driver_sql(self._upsert_version_tag, (row.pk, key, value))
            self._audit(conn, who, now, model, "set_model_version_tag", version=version, key=key, old=old, new=value)
            enqueue_event(conn, "model_version_tag.set",
                          {"name": name, "version": str(version), "key": key, "value": value}, now)

    def delete_version_tag(self, name: str, version: int, key: str, who: str | None, now: int) -> None:
        t = r.model_version_tags.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            old = conn.execute(select(t.value).where(t.model_version_id == row.pk, t.key == key)).first()
            if old is not None:
                conn.execute(delete(r.model_version_tags).where(t.model_version_id == row.pk, t.key == key))
                self._audit(conn, who, now, model, "delete_model_version_tag", version=version, key=key, old=old[0])
                enqueue_event(conn, "model_version_tag.deleted", {"name": name, "version": str(version), "key": key}, now)

    # ---- aliases --------------------------------------------------------------

    def _alias_version(self, conn: Connection, model: ModelRow, alias: str) -> int | None:
        a, v = r.registered_model_aliases.c, r.model_versions.c
        return conn.execute(
            select(v.version).select_from(r.registered_model_aliases.join(
                r.model_versions, v.id == a.model_version_id))
            .where(a.registered_model_id == model.pk, a.alias == alias)
        ).scalar()

    def set_alias(self, name: str, alias: str, version: int, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            old = self._alias_version(conn, model, alias)
            conn.exec_driver_sql(self._upsert_alias, (model.pk, alias, row.pk))
            self._audit(conn, who, now, model, "set_registered_model_alias", version=version, key=alias,
                        old=old, new=version)
            enqueue_event(conn, "model_version_alias.created",
                          {"name": name, "alias": alias, "version": str(version)}, now)

    def delete_alias(self, name: str, alias: str, who: str | None, now: int) -> None:
        a = r.registered_model_aliases.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            old = self._alias_version(conn, model, alias)
            if old is not None:
                conn.execute(delete(r.registered_model_aliases).where(
                    a.registered_model_id == model.pk, a.alias == alias))
                self._audit(conn, who, now, model, "delete_registered_model_alias", version=old, key=alias, old=old)
                enqueue_event(conn, "model_version_alias.deleted", {"name": name, "alias": alias}, now)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        with self.db.read() as conn:
            model = self.model_row(conn, name)
            version = self._alias_version(conn, model, alias)
        return None if version is None else self.get_version(name, version)

    def latest_versions(self, name: str, stages: Sequence[str]) -> list[ModelVersion]:
        with self.db.read() as conn:
            model = self.model_row(conn, name)
            latest = self._latest(conn, [model.pk]).get(model.pk, [])
        return [v for v in latest if v.current_stage in stages]

    # ---- search and loading ---------------------------------------------------

    def search_models(
        self, filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, include_prompts: bool
    ) -> list[RegisteredModel]:
        query = registered_model_search_select(filters, order_by, limit, offset, self.db.dialect,
                                               include_prompts=include_prompts)
        with self.db.read() as conn:
            return self._load_models(conn, [row[0] for row in conn.execute(query)])

    def search_versions(
        self, filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, include_prompts: bool
    ) -> list[ModelVersion]:
        query = model_version_search_select(filters, order_by, limit, offset, self.db.dialect,
                                            include_prompts=include_prompts)
        with self.db.read() as conn:
            ids = [row[0] for row in conn.execute(query)]
            by_id = {v[0]: v[1] for v in self._load_versions_by_pk(conn, ids)}
        return [by_id[i] for i in ids if i in by_id]

    def audit(self, name: str, limit: int, offset: int) -> list[RegistryAuditEntry]:
        """Changes to every model that has been called ``name``, across renames and after deletion."""
        c = r.registry_audit.c
        ever_named = select(c.registered_model_id).where(c.name == name).distinct()
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


def _stage_changed(conn: Connection, name: str, version: int, old: str, new: str, now: int) -> None:
    """Our extension event: a version moved between legacy stages."""
    if old != new:
        enqueue_event(conn, "model_version.stage_changed",
                      {"name": name, "version": str(version), "from_stage": old, "to_stage": new}, now)

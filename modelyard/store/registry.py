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

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..entities import prompts as p
from ..entities.registry import ModelVersion, RegisteredModel, Stage
from ..errors import ResourceAlreadyExists, ResourceDoesNotExist
from . import auth_schema as a
from . import registry_schema as r
from .database import Database
from .registry_reads import RegistryReads
from .webhooks import enqueue_event
from .workspaces import DEFAULT, model_key, split_model_key


class ModelRow(NamedTuple):
    pk: int
    name: str
    description: str | None
    workspace: str = DEFAULT


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


class RegistryStore(RegistryReads):
    """Registered models, versions, tags, aliases and stages, each change audited and announced to webhooks."""

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
        """The model ``name`` of the request's workspace, or the model a key ``<workspace>:<name>`` names
        (:func:`.workspaces.model_key`: what monitors, policies and rollouts keep, so they never depend on
        the workspace of whoever reads them)."""
        c = r.registered_models.c
        workspace, bare = split_model_key(model_key(name))
        found = conn.execute(select(c.id, c.name, c.description, c.workspace)
                             .where(c.name == bare, c.workspace == workspace)).first()
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
            timestamp=now, user_id=who, registered_model_id=model.pk, name=model.name, workspace=model.workspace,
            version=version,
            action=action, key=key, old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
        ))

    def _is_prompt(self, conn: Connection, model: ModelRow) -> bool:
        t = r.registered_model_tags.c
        value = conn.execute(select(t.value).where(t.registered_model_id == model.pk, t.key == p.IS_PROMPT_TAG)).scalar()
        return str(value or "").lower() == "true"

    def _event(self, conn: Connection, model: ModelRow, model_event: str, prompt_event: str) -> str:
        """The webhook event of a change: MLflow announces a change to a prompt as a prompt event."""
        return prompt_event if self._is_prompt(conn, model) else model_event

    def _touch(self, conn: Connection, model: ModelRow, now: int, **values: Any) -> None:
        conn.execute(update(r.registered_models).where(r.registered_models.c.id == model.pk)
                     .values(last_updated_time=now, **values))

    # ---- registered models ----------------------------------------------------

    def create_model(
        self, name: str, description: str | None, tags: dict[str, str], who: str | None, now: int,
        workspace: str = "default",
    ) -> RegisteredModel:
        try:
            with self.db.write() as conn:
                pk = conn.execute(insert(r.registered_models).values(
                    name=name, description=description, creation_time=now, last_updated_time=now, next_version=1,
                    workspace=workspace,
                )).inserted_primary_key[0]  # type: ignore[index]
                model = ModelRow(pk, name, description, workspace)
                self._audit(conn, who, now, model, "create_registered_model", new=description)
                for key, value in tags.items():
                    conn.exec_driver_sql(self._upsert_model_tag, (pk, key, value))
                    self._audit(conn, who, now, model, "set_registered_model_tag", key=key, new=value)
                if p.is_prompt(tags):
                    enqueue_event(conn, "prompt.created", {
                        **_named(model),
                        "tags": {k: v for k, v in tags.items() if k not in (p.IS_PROMPT_TAG, p.TYPE_TAG)},
                        "description": description}, now)
                else:
                    enqueue_event(conn, "registered_model.created",
                                  {**_named(model), "tags": dict(tags), "description": description}, now)
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
                _move_grants(conn, name, new_name)
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
            _move_grants(conn, name, None)

    def set_model_tag(self, name: str, key: str, value: str | None, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            t = r.registered_model_tags.c
            old = conn.execute(select(t.value).where(t.registered_model_id == model.pk, t.key == key)).scalar()
            conn.exec_driver_sql(self._upsert_model_tag, (model.pk, key, value))
            self._audit(conn, who, now, model, "set_registered_model_tag", key=key, old=old, new=value)
            if self._is_prompt(conn, model):
                enqueue_event(conn, "prompt_tag.set", {**_named(model), "key": key, "value": value}, now)

    def delete_model_tag(self, name: str, key: str, who: str | None, now: int) -> None:
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            t = r.registered_model_tags.c
            old = conn.execute(select(t.value).where(t.registered_model_id == model.pk, t.key == key)).first()
            if old is not None:
                conn.execute(delete(r.registered_model_tags).where(t.registered_model_id == model.pk, t.key == key))
                self._audit(conn, who, now, model, "delete_registered_model_tag", key=key, old=old[0])
                if self._is_prompt(conn, model):
                    enqueue_event(conn, "prompt_tag.deleted", {**_named(model), "key": key}, now)

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
            )).inserted_primary_key[0]  # type: ignore[index]
            self._audit(conn, who, now, model, "create_model_version", version=version, key="source", new=source)
            for key, value in tags.items():
                conn.exec_driver_sql(self._upsert_version_tag, (pk, key, value))
                self._audit(conn, who, now, model, "set_model_version_tag", version=version, key=key, new=value)
            if p.is_prompt(tags):
                enqueue_event(conn, "prompt_version.created", {
                    **_named(model), "version": str(version), "template": tags.get(p.TEXT_TAG),
                    "tags": {k: v for k, v in tags.items() if k not in (p.IS_PROMPT_TAG, p.TYPE_TAG, p.TEXT_TAG)},
                    "description": description or None}, now)
            else:
                enqueue_event(conn, "model_version.created", {
                    **_named(model), "version": str(version), "source": source,
                    "run_id": run_id, "tags": dict(tags),
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
                    _stage_changed(conn, model, other, old_stage, Stage.ARCHIVED, now)
            conn.execute(update(r.model_versions).where(c.id == row.pk)
                         .values(current_stage=stage, last_updated_time=now))
            self._touch(conn, model, now)
            self._audit(conn, who, now, model, "transition_model_version_stage", version=version,
                        key="current_stage", old=row.current_stage, new=stage)
            _stage_changed(conn, model, version, row.current_stage, stage, now)
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
            enqueue_event(conn, self._event(conn, model, "model_version_tag.set", "prompt_version_tag.set"),
                          {**_named(model), "version": str(version), "key": key, "value": value}, now)

    def delete_version_tag(self, name: str, version: int, key: str, who: str | None, now: int) -> None:
        t = r.model_version_tags.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            row = self.version_row(conn, model, version)
            old = conn.execute(select(t.value).where(t.model_version_id == row.pk, t.key == key)).first()
            if old is not None:
                conn.execute(delete(r.model_version_tags).where(t.model_version_id == row.pk, t.key == key))
                self._audit(conn, who, now, model, "delete_model_version_tag", version=version, key=key, old=old[0])
                event = self._event(conn, model, "model_version_tag.deleted", "prompt_version_tag.deleted")
                enqueue_event(conn, event, {**_named(model), "version": str(version), "key": key}, now)

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
            enqueue_event(conn, self._event(conn, model, "model_version_alias.created", "prompt_alias.created"),
                          {**_named(model), "alias": alias, "version": str(version)}, now)

    def delete_alias(self, name: str, alias: str, who: str | None, now: int) -> None:
        a = r.registered_model_aliases.c
        with self.db.write() as conn:
            model = self.model_row(conn, name)
            old = self._alias_version(conn, model, alias)
            if old is not None:
                conn.execute(delete(r.registered_model_aliases).where(
                    a.registered_model_id == model.pk, a.alias == alias))
                self._audit(conn, who, now, model, "delete_registered_model_alias", version=old, key=alias, old=old)
                event = self._event(conn, model, "model_version_alias.deleted", "prompt_alias.deleted")
                enqueue_event(conn, event, {**_named(model), "alias": alias}, now)

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

def _move_grants(conn: Connection, name: str, new_name: str | None) -> None:
    """Grants on a registered model (users' and groups') follow it to its new name, or go with it when it is
    deleted: a model made later under the old name starts with none of them. Stale grants on the new name
    (from before grants followed) go."""
    old_key = model_key(name)
    for table in (a.auth_grants, a.auth_group_grants):
        on = table.c.resource_type == "registered_model"
        if new_name is not None:
            conn.execute(delete(table).where(on, table.c.resource_id == model_key(new_name)))
            conn.execute(update(table).where(on, table.c.resource_id == old_key).values(resource_id=model_key(new_name)))
        else:
            conn.execute(delete(table).where(on, table.c.resource_id == old_key))


def _named(model: ModelRow) -> dict[str, str]:
    """A webhook payload's model: its name and its workspace (names repeat across workspaces)."""
    return {"name": model.name, "workspace": model.workspace}


def _stage_changed(conn: Connection, model: ModelRow, version: int, old: str, new: str, now: int) -> None:
    """Our extension event: a version moved between legacy stages."""
    if old != new:
        enqueue_event(conn, "model_version.stage_changed",
                      {**_named(model), "version": str(version), "from_stage": old, "to_stage": new}, now)

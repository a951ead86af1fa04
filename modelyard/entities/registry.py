"""Plain data types of the model registry, shaped like MLflow's.

``to_dict`` gives the MLflow REST JSON shape (``model_registry.proto``);
``from_dict`` reads it back. Versions travel as strings, as MLflow writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Stage:
    """The legacy model version stages (``current_stage``)."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)
    ACTIVE = (STAGING, PRODUCTION)


class ModelVersionStatus:
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


def _tags_out(tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tags_in(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or []}


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = Stage.NONE
    source: str | None = None
    run_id: str | None = None
    status: str = ModelVersionStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "version": self.version}
        for key in ("creation_timestamp", "last_updated_timestamp", "user_id", "current_stage",
                    "description", "source", "run_id", "status", "status_message"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        d["tags"] = _tags_out(self.tags)
        if self.run_link is not None:
            d["run_link"] = self.run_link
        d["aliases"] = list(self.aliases)
        if self.model_id is not None:
            d["model_id"] = self.model_id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        return cls(
            name=d["name"],
            version=str(d["version"]),
            creation_timestamp=_opt_int(d.get("creation_timestamp")),
            last_updated_timestamp=_opt_int(d.get("last_updated_timestamp")),
            description=d.get("description"),
            user_id=d.get("user_id"),
            current_stage=d.get("current_stage", Stage.NONE),
            source=d.get("source"),
            run_id=d.get("run_id"),
            status=d.get("status", ModelVersionStatus.READY),
            status_message=d.get("status_message"),
            tags=_tags_in(d.get("tags")),
            run_link=d.get("run_link"),
            aliases=list(d.get("aliases", [])),
            model_id=d.get("model_id"),
        )


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        for key in ("creation_timestamp", "last_updated_timestamp", "description"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        d["latest_versions"] = [v.to_dict() for v in self.latest_versions]
        d["tags"] = _tags_out(self.tags)
        d["aliases"] = [{"alias": a, "version": v} for a, v in self.aliases.items()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=d["name"],
            creation_timestamp=_opt_int(d.get("creation_timestamp")),
            last_updated_timestamp=_opt_int(d.get("last_updated_timestamp")),
            description=d.get("description"),
            latest_versions=[ModelVersion.from_dict(v) for v in d.get("latest_versions", [])],
            tags=_tags_in(d.get("tags")),
            aliases={a["alias"]: str(a["version"]) for a in d.get("aliases", [])},
        )


@dataclass(slots=True)
class RegistryAuditEntry:
    """One recorded registry change: who did what to which model (and version), from what to what."""

    id: int
    timestamp: int
    user_id: str | None
    name: str
    version: str | None
    action: str
    key: str | None = None
    old_value: str | None = None
    new_value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "timestamp": self.timestamp, "name": self.name, "action": self.action}
        for key in ("user_id", "version", "key", "old_value", "new_value"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegistryAuditEntry:
        return cls(
            id=int(d["id"]),
            timestamp=int(d["timestamp"]),
            user_id=d.get("user_id"),
            name=d["name"],
            version=d.get("version"),
            action=d["action"],
            key=d.get("key"),
            old_value=d.get("old_value"),
            new_value=d.get("new_value"),
        )

"""SQL tables of the model registry (registered models, versions, tags, aliases, audit).

A registered model has an integer surrogate key (``registered_models.id``) that
every child row uses, so a rename touches one row. ``next_version`` is the
per-model version counter: creating a version increments it in the same
transaction, so concurrent creators get 1, 2, 3… and a deleted version's
number is never handed out again. The audit trail keeps the model's id and
name as plain values (no foreign key): it outlives what it describes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .schema import metadata

__all__ = [
    "metadata",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "registry_audit",
]

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("next_version", Integer, nullable=False, server_default="1"),
    Column("workspace", String(63), nullable=False, server_default="default"),
    UniqueConstraint("workspace", "name", name="uq_registered_models_workspace_name"),  # per workspace (0020)
)
Index("registered_models_workspace", registered_models.c.workspace)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("registered_model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("registered_model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False, server_default="None"),
    Column("source", Text),
    Column("storage_location", Text),
    Column("run_id", String(32)),
    Column("run_link", Text),
    Column("model_id", String(64)),
    Column("status", String(20), nullable=False, server_default="READY"),
    Column("status_message", Text),
    UniqueConstraint("registered_model_id", "version", name="uq_model_versions_model_version"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_version_id", Integer, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("registered_model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("model_version_id", Integer, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
)

registry_audit = Table(
    "registry_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_id", String(256)),
    Column("registered_model_id", Integer),
    Column("name", String(256), nullable=False),
    Column("version", Integer),
    Column("action", String(64), nullable=False),
    Column("key", Text),  # a tag's key, or a grant's "<user> on registered_model <workspace>:<model>"
    Column("old_value", Text),
    Column("new_value", Text),
    # The workspace of the model changed (0024): the trail of a name is read in its workspace only.
    Column("workspace", String(63), nullable=False, server_default="default"),
    Index("ix_registry_audit_model", "registered_model_id", "id"),
    Index("ix_registry_audit_name", "name", "id"),
    Index("ix_registry_audit_workspace_name", "workspace", "name", "id"),
)

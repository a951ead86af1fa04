"""SQL tables of authentication: accounts, access tokens, grants, and failed logins.

``auth_users`` holds people and service accounts (``kind``) with an argon2 password hash (service
accounts have none: they use tokens). ``auth_tokens`` keeps only a SHA-256 of each token (tokens
are 256 random bits, so a fast hash is enough) and its first characters to tell them apart.
``auth_grants`` gives a user a level (READ, EDIT, MANAGE) on one resource: an experiment or a
registered model, by its id or name. ``auth_login_failures`` counts failed logins per user and
client address, so the back-off holds across server processes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from .schema import MODEL_KEY_LENGTH, metadata

__all__ = ["auth_grants", "auth_group_grants", "auth_group_members", "auth_groups", "auth_login_failures", "auth_tokens",
           "auth_users"]

auth_users = Table(
    "auth_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("kind", String(20), nullable=False, default="user"),  # user | service
    Column("created_ms", BigInteger, nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("revoked_ms", BigInteger, nullable=True),
    Column("last_used_ms", BigInteger, nullable=True),
)
Index("auth_tokens_user", auth_tokens.c.user_id)

auth_grants = Table(
    "auth_grants",
    metadata,
    Column("user_id", Integer, ForeignKey("auth_users.id", ondelete="CASCADE"), primary_key=True),
    Column("resource_type", String(32), primary_key=True),  # experiment | registered_model
    Column("resource_id", String(MODEL_KEY_LENGTH), primary_key=True),
    Column("level", String(16), nullable=False),  # READ | EDIT | MANAGE | NO_PERMISSIONS
)
Index("auth_grants_resource", auth_grants.c.resource_type, auth_grants.c.resource_id)

auth_login_failures = Table(
    "auth_login_failures",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
)

# Groups (migration 0014): a grant to a group applies to each member; a member's own grant wins.
auth_groups = Table(
    "auth_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
)

auth_group_members = Table(
    "auth_group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("auth_users.id", ondelete="CASCADE"), primary_key=True),
)
Index("auth_group_members_user", auth_group_members.c.user_id)

auth_group_grants = Table(
    "auth_group_grants",
    metadata,
    Column("group_id", Integer, ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(MODEL_KEY_LENGTH), primary_key=True),
    Column("level", String(16), nullable=False),
)

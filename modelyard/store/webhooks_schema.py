"""SQL tables of registry webhooks: subscriptions, their events, and the delivery outbox.

``webhook_deliveries`` is both the durable outbox and the delivery history: a
row is written in the same transaction as the registry change it announces
(so an event is never lost, and never sent for a rolled-back change), then a
worker claims it (``status`` ``pending`` -> ``delivering`` with a lease in
``next_attempt_at``), sends it, and records the outcome. Webhooks are
soft-deleted (``deleted_time``) so their delivery history stays readable.
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
)

from .schema import metadata

__all__ = ["metadata", "webhook_deliveries", "webhook_events", "webhooks"]

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("name", String(63), nullable=False),
    Column("description", Text),
    Column("url", Text, nullable=False),
    Column("secret", Text),
    Column("status", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger),
    Index("ix_webhooks_creation_time", "creation_time"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), primary_key=True),
    Column("event", String(64), primary_key=True),
    Index("ix_webhook_events_event", "event"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("claimed_by", String(64)),
    Column("created_time", BigInteger, nullable=False),
    Column("last_attempt_time", BigInteger),
    Column("delivered_time", BigInteger),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("error", Text),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)

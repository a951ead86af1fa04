"""SQL tables — Registry webhooks: subscriptions, a durable delivery outbox, delivery history."""

from __future__ import annotations

from .schema import metadata

__all__ = ["metadata"]

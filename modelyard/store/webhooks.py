"""Registry webhooks: subscriptions, a durable delivery outbox, delivery history — in SQL."""

from __future__ import annotations

from .database import Database


class WebhooksStore:
    def __init__(self, db: Database) -> None:
        self.db = db

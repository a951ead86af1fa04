"""Registry webhooks in SQL: subscriptions, the durable delivery outbox and its history.

:func:`enqueue_event` is called by the registry store inside the transaction
of the change it announces, so an event is recorded exactly when its change
commits. Workers (the server's, or the SDK's small thread) take due rows with
:meth:`WebhooksStore.claim_due`: a compare-and-set ``UPDATE`` that hands each
row to one claimant for a lease, safe with any number of processes on SQLite
and PostgreSQL. When a connection that enqueued events goes back to the pool
(after its commit), the store's listeners are called so a local worker can
deliver without waiting for its next poll.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, event, exists, func, insert, select, update

from ..entities.webhooks import (
    EXTENSION_EVENTS,
    MLFLOW_EVENTS,
    Webhook,
    WebhookDelivery,
)
from ..errors import ResourceDoesNotExist
from . import webhooks_schema as w
from .database import Database

# Re-exported: the webhook entities and events live in entities.webhooks.py.
__all__ = [
    "DELIVERED", "DELIVERING", "EXTENSION_EVENTS", "FAILED", "MLFLOW_EVENTS", "PENDING", "Claimed", "Webhook",
    "WebhookDelivery", "WebhooksStore", "enqueue_event", "not_found",
]

PENDING, DELIVERING, DELIVERED, FAILED = "pending", "delivering", "delivered", "failed"

_ENQUEUED = "modelyard.webhook_events_enqueued"


class Claimed(NamedTuple):
    pk: int
    delivery_id: str
    webhook_id: str
    event: str
    payload: str
    attempts: int
    url: str
    secret: str | None
    active: bool


def not_found(webhook_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Webhook with ID {webhook_id} not found.")


def enqueue_event(conn: Connection, event_name: str, data: dict[str, Any], now: int) -> int:
    """Add ``event_name`` for every active webhook subscribed to it, in ``conn``'s transaction."""
    hook, sub = w.webhooks.c, w.webhook_events.c
    ids = conn.execute(
        select(hook.webhook_id).select_from(w.webhooks.join(w.webhook_events, sub.webhook_id == hook.webhook_id))
        .where(sub.event == event_name, hook.status == "ACTIVE", hook.deleted_time.is_(None))
    ).scalars().all()
    if not ids:
        return 0
    entity, _, action = event_name.partition(".")
    payload = json.dumps({
        "entity": entity, "action": action,
        "timestamp": datetime.fromtimestamp(now / 1000, timezone.utc).isoformat(), "data": data,
    })
    conn.execute(insert(w.webhook_deliveries), [
        {"delivery_id": str(uuid.uuid4()), "webhook_id": webhook_id, "event": event_name, "payload": payload,
         "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_time": now}
        for webhook_id in ids
    ])
    conn.info[_ENQUEUED] = True
    return len(ids)


class WebhooksStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        event.listen(db.engine.pool, "checkin", self._on_checkin)
        db.after_commit.append(self._on_commit)  # the SQLite writer's connection is not the pool's

    # ---- wake-ups -------------------------------------------------------------

    def add_listener(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (from the writing thread) after a transaction that enqueued events ends."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _on_checkin(self, _dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            self._on_commit(record.info)

    def _on_commit(self, info: dict[Any, Any]) -> None:
        if info.pop(_ENQUEUED, None):
            with self._lock:
                listeners = list(self._listeners)
            for fn in listeners:
                fn()

    # ---- subscriptions --------------------------------------------------------

    def create(self, name: str, url: str, events: list[str], description: str | None, secret: str | None,
               status: str, now: int) -> Webhook:
        webhook_id = str(uuid.uuid4())
        with self.db.write() as conn:
            conn.execute(insert(w.webhooks).values(
                webhook_id=webhook_id, name=name, url=url, description=description, secret=secret, status=status,
                creation_time=now, last_updated_time=now))
            conn.execute(insert(w.webhook_events), [{"webhook_id": webhook_id, "event": e} for e in events])
        return self.get(webhook_id)

    def get(self, webhook_id: str) -> Webhook:
        with self.db.read() as conn:
            found = self._load(conn, [webhook_id])
        if not found:
            raise not_found(webhook_id)
        return found[0]

    def target(self, webhook_id: str) -> tuple[Webhook, str | None]:
        """The webhook and its secret, for sending."""
        c = w.webhooks.c
        with self.db.read() as conn:
            secret = conn.execute(select(c.secret).where(c.webhook_id == webhook_id, c.deleted_time.is_(None))).first()
            found = self._load(conn, [webhook_id])
        if secret is None or not found:
            raise not_found(webhook_id)
        return found[0], secret[0]

    def list_page(self, limit: int, offset: int, only_events: tuple[str, ...] | None) -> list[Webhook]:
        """Newest first; with ``only_events``, just the webhooks subscribed to one of them."""
        c, e = w.webhooks.c, w.webhook_events.c
        query = select(c.webhook_id).where(c.deleted_time.is_(None))
        if only_events is not None:
            query = query.where(exists().where(e.webhook_id == c.webhook_id, e.event.in_(only_events)))
        query = query.order_by(c.creation_time.desc(), c.webhook_id).limit(limit).offset(offset)
        with self.db.read() as conn:
            return self._load(conn, list(conn.execute(query).scalars()))

    def update(self, webhook_id: str, values: dict[str, Any], events: list[str] | None, now: int) -> Webhook:
        c = w.webhooks.c
        with self.db.write() as conn:
            done = conn.execute(update(w.webhooks).where(c.webhook_id == webhook_id, c.deleted_time.is_(None))
                                .values(last_updated_time=now, **values))
            if done.rowcount != 1:
                raise not_found(webhook_id)
            if events is not None:
                conn.execute(delete(w.webhook_events).where(w.webhook_events.c.webhook_id == webhook_id))
                conn.execute(insert(w.webhook_events), [{"webhook_id": webhook_id, "event": e} for e in events])
        return self.get(webhook_id)

    def delete(self, webhook_id: str, now: int) -> None:
        """Soft delete: the webhook stops receiving events; its delivery history stays."""
        c, d = w.webhooks.c, w.webhook_deliveries.c
        with self.db.write() as conn:
            done = conn.execute(update(w.webhooks).where(c.webhook_id == webhook_id, c.deleted_time.is_(None))
                                .values(deleted_time=now, last_updated_time=now, secret=None))
            if done.rowcount != 1:
                raise not_found(webhook_id)
            conn.execute(update(w.webhook_deliveries)
                         .where(d.webhook_id == webhook_id, d.status.in_((PENDING, DELIVERING)))
                         .values(status=FAILED, error="The webhook was deleted."))

    def _load(self, conn: Connection, ids: list[str]) -> list[Webhook]:
        if not ids:
            return []
        c, e = w.webhooks.c, w.webhook_events.c
        rows = {r.webhook_id: r for r in conn.execute(
            select(w.webhooks).where(c.webhook_id.in_(ids), c.deleted_time.is_(None)))}
        events: dict[str, list[str]] = {}
        for webhook_id, name in conn.execute(select(e.webhook_id, e.event).where(e.webhook_id.in_(ids))
                                             .order_by(e.event)):
            events.setdefault(webhook_id, []).append(name)
        return [
            Webhook(r.webhook_id, r.name, r.url, events.get(r.webhook_id, []), r.description, r.status,
                    r.creation_time, r.last_updated_time)
            for r in (rows.get(i) for i in ids) if r is not None
        ]

    # ---- the outbox -----------------------------------------------------------

    def deliveries(self, webhook_id: str, limit: int, offset: int) -> list[WebhookDelivery]:
        """Newest first, for a webhook (deleted ones included)."""
        d = w.webhook_deliveries.c
        with self.db.read() as conn:
            if conn.execute(select(w.webhooks.c.webhook_id).where(w.webhooks.c.webhook_id == webhook_id)).first() is None:
                raise not_found(webhook_id)
            rows = conn.execute(select(w.webhook_deliveries).where(d.webhook_id == webhook_id)
                                .order_by(d.id.desc()).limit(limit).offset(offset)).all()
        return [
            WebhookDelivery(
                r.delivery_id, r.webhook_id, r.event, r.status, r.attempts, r.created_time,
                r.next_attempt_at if r.status in (PENDING, DELIVERING) else None, r.last_attempt_time,
                r.delivered_time, r.response_status, r.response_body, r.error, json.loads(r.payload))
            for r in rows
        ]

    def claim_due(self, now: int, lease_ms: int, token: str, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due deliveries for ``lease_ms``; each row goes to exactly one claimant.

        A row is due when pending and its time has come, or when a claimant's
        lease ran out (it died mid-send). The ``UPDATE`` re-checks the values
        read, so of several concurrent claimants only one changes each row.
        """
        d, c = w.webhook_deliveries.c, w.webhooks.c
        with self.db.read() as conn:
            due = conn.execute(
                select(d.id, d.status, d.next_attempt_at)
                .where(d.status.in_((PENDING, DELIVERING)), d.next_attempt_at <= now)
                .order_by(d.next_attempt_at, d.id).limit(limit)
            ).all()
        if not due:
            return []
        won: list[int] = []
        with self.db.write() as conn:
            for pk, status, at in due:
                done = conn.execute(
                    update(w.webhook_deliveries)
                    .where(d.id == pk, d.status == status, d.next_attempt_at == at)
                    .values(status=DELIVERING, claimed_by=token, attempts=d.attempts + 1,
                            next_attempt_at=now + lease_ms, last_attempt_time=now))
                if done.rowcount == 1:
                    won.append(pk)
        if not won:
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                select(d.id, d.delivery_id, d.webhook_id, d.event, d.payload, d.attempts, c.url, c.secret,
                       c.status, c.deleted_time)
                .select_from(w.webhook_deliveries.join(w.webhooks, c.webhook_id == d.webhook_id))
                .where(d.id.in_(won)).order_by(d.id)
            ).all()
        return [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] == "ACTIVE" and r[9] is None)
                for r in rows]

    def record(self, pk: int, token: str, *, status: str, now: int, next_attempt_at: int | None = None,
               response_status: int | None = None, response_body: str | None = None, error: str | None = None) -> bool:
        """The outcome of an attempt; ignored (False) if the claim was lost to another worker."""
        d = w.webhook_deliveries.c
        values: dict[str, Any] = {"status": status, "response_status": response_status,
                                  "response_body": response_body, "error": error, "claimed_by": None}
        if status == DELIVERED:
            values["delivered_time"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self.db.write() as conn:
            done = conn.execute(update(w.webhook_deliveries)
                                .where(d.id == pk, d.claimed_by == token, d.status == DELIVERING).values(**values))
        return done.rowcount == 1

    def next_due_at(self) -> int | None:
        """When the next pending (or leased) delivery falls due; None when nothing waits."""
        d = w.webhook_deliveries.c
        with self.db.read() as conn:
            return conn.execute(select(func.min(d.next_attempt_at))
                                .where(d.status.in_((PENDING, DELIVERING)))).scalar()

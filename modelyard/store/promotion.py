"""Promotion in SQL: policies, gate runs, transition requests, rollouts, and their audit rows.

Each write also records who did it in the registry's audit trail (``registry_audit``, the same
rows :meth:`RegistryStore.audit` reads) and announces itself to webhooks (our extension events,
:data:`~modelyard.entities.webhooks.EXTENSION_EVENTS`) in the same transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..entities.promotion import Promotion, Rollout, TransitionRequest
from ..errors import ResourceDoesNotExist
from . import promotion_schema as p
from .database import Database
from .registry import RegistryStore
from .webhooks import enqueue_event
from .workspaces import key_in_scope, model_key, shown_name, split_model_key

__all__ = ["Promotion", "PromotionStore", "Rollout", "TransitionRequest"]


class PromotionStore:
    def __init__(self, db: Database, registry: RegistryStore) -> None:
        self.db = db
        self.registry = registry
        self._upsert_policy = db.upsert(
            "promotion_policies", ("model_name", "alias", "spec", "created_ms", "updated_ms", "updated_by"),
            ("model_name", "alias"))
        self._upsert_rollout = db.upsert(
            "rollouts", ("model_name", "alias", "stable_version", "candidate_version", "mode", "weight", "state",
                         "spec", "created_ms", "updated_ms", "updated_by"), ("model_name", "alias"))

    def audit(self, conn: Connection, model_name: str, action: str, who: str | None, now: int,
              version: int | None = None, key: str | None = None, old: Any = None, new: Any = None) -> None:
        model = self.registry.model_row(conn, model_name)
        self.registry._audit(conn, who, now, model, action, version=version, key=key, old=old, new=new)

    # ---- policies -------------------------------------------------------------

    def set_policy(self, model_name: str, alias: str, spec: dict[str, Any], who: str | None, now: int) -> None:
        c = p.promotion_policies.c
        with self.db.write() as conn:
            model_name = model_key(model_name)
            old = conn.execute(select(c.spec, c.created_ms).where(c.model_name == model_name, c.alias == alias)).first()
            text = json.dumps(spec, sort_keys=True)
            conn.exec_driver_sql(self._upsert_policy, (model_name, alias, text, old[1] if old else now, now, who))
            self.audit(conn, model_name, "set_promotion_policy", who, now, key=alias,
                       old=None if old is None else old[0], new=text)

    def get_policy(self, model_name: str, alias: str) -> dict[str, Any] | None:
        c = p.promotion_policies.c
        with self.db.read() as conn:
            row = conn.execute(select(c.spec, c.updated_ms, c.updated_by)
                               .where(c.model_name == model_key(model_name), c.alias == alias)).first()
        if row is None:
            return None
        return {"model_name": shown_name(model_key(model_name)), "alias": alias, "policy": json.loads(row[0]),
                "updated_ms": row[1],
                "updated_by": row[2]}

    def list_policies(self, model_name: str | None) -> list[dict[str, Any]]:
        c = p.promotion_policies.c
        query = (select(c.model_name, c.alias, c.spec, c.updated_ms, c.updated_by).where(key_in_scope(c.model_name))
                 .order_by(c.model_name, c.alias))
        if model_name:
            query = query.where(c.model_name == model_key(model_name))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [{"model_name": shown_name(r[0]), "alias": r[1], "policy": json.loads(r[2]), "updated_ms": r[3],
                 "updated_by": r[4]}
                for r in rows]

    def delete_policy(self, model_name: str, alias: str, who: str | None, now: int) -> bool:
        c = p.promotion_policies.c
        with self.db.write() as conn:
            gone = conn.execute(delete(p.promotion_policies).where(c.model_name == model_key(model_name),
                                                                   c.alias == alias))
            if gone.rowcount:
                self.audit(conn, model_name, "delete_promotion_policy", who, now, key=alias)
            return bool(gone.rowcount)

    # ---- gate runs ------------------------------------------------------------

    def record_promotion(self, row: Promotion) -> Promotion:
        with self.db.write() as conn:
            row.id = conn.execute(insert(p.promotions).values(
                model_name=model_key(row.model_name), version=row.version, alias=row.alias, status=row.status,
                champion_version=row.champion_version, checks=json.dumps(row.checks), policy=json.dumps(row.policy),
                request_id=row.request_id, user_id=row.user_id, created_ms=row.created_ms,
            )).inserted_primary_key[0]  # type: ignore[index]
            failed = [c["name"] for c in row.checks if not c["passed"]]
            self.audit(conn, row.model_name, "promotion_gates", row.user_id, row.created_ms, version=row.version,
                       key=row.alias, new=f"{row.status} (promotion {row.id})" + (f"; failed: {', '.join(failed)}"
                                                                                  if failed else ""))
            enqueue_event(conn, f"promotion.{row.status}", {
                **_named(row.model_name), "version": str(row.version), "alias": row.alias,
                "promotion_id": str(row.id), "failed_checks": failed}, row.created_ms)
        return row

    def get_promotion(self, promotion_id: int) -> Promotion:
        with self.db.read() as conn:
            row = conn.execute(select(p.promotions).where(p.promotions.c.id == promotion_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Promotion {promotion_id} not found.")
        return _promotion(row)

    def list_promotions(self, model_name: str, version: int | None, limit: int) -> list[Promotion]:
        c = p.promotions.c
        query = select(p.promotions).where(c.model_name == model_key(model_name)).order_by(c.id.desc()).limit(limit)
        if version is not None:
            query = query.where(c.version == version)
        with self.db.read() as conn:
            return [_promotion(r) for r in conn.execute(query).all()]

    # ---- transition requests --------------------------------------------------

    def create_request(self, model_name: str, version: int, alias: str, who: str | None, comment: str | None,
                       now: int) -> TransitionRequest:
        with self.db.write() as conn:
            rid = conn.execute(insert(p.transition_requests).values(
                model_name=model_key(model_name), version=version, alias=alias, status="open", requested_by=who,
                created_ms=now, updated_ms=now)).inserted_primary_key[0]  # type: ignore[index]
            self._event(conn, rid, "request", who, comment, now, None)
        return self.get_request(rid)

    def add_event(self, request_id: int, action: str, who: str | None, comment: str | None, now: int,
                  status: str | None) -> TransitionRequest:
        with self.db.write() as conn:
            self._event(conn, request_id, action, who, comment, now, status)
        return self.get_request(request_id)

    def _event(self, conn: Connection, request_id: int, action: str, who: str | None, comment: str | None, now: int,
               status: str | None) -> None:
        c = p.transition_requests.c
        row = conn.execute(select(c.model_name, c.version, c.alias).where(c.id == request_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Transition request {request_id} not found.")
        conn.execute(insert(p.transition_request_events).values(
            request_id=request_id, action=action, user_id=who, comment=comment, timestamp=now))
        values: dict[str, Any] = {"updated_ms": now}
        if status:
            values["status"] = status
        conn.execute(update(p.transition_requests).where(c.id == request_id).values(**values))
        self.audit(conn, row[0], f"transition_request_{action}", who, now, version=row[1], key=row[2],
                   new=f"request {request_id}" + (f": {comment}" if comment else ""))
        past = {"request": "created", "comment": "commented", "approve": "approved", "reject": "rejected",
                "cancel": "cancelled", "promote": "promoted"}[action]
        enqueue_event(conn, f"transition_request.{past}", {
            **_named(row[0]), "version": str(row[1]), "alias": row[2], "request_id": str(request_id), "user": who,
            "comment": comment}, now)

    def get_request(self, request_id: int) -> TransitionRequest:
        with self.db.read() as conn:
            row = conn.execute(select(p.transition_requests).where(p.transition_requests.c.id == request_id)).first()
            if row is None:
                raise ResourceDoesNotExist(f"Transition request {request_id} not found.")
            return self._with_events(conn, [row])[0]

    def list_requests(self, model_name: str | None, status: str | None, limit: int) -> list[TransitionRequest]:
        c = p.transition_requests.c
        query = select(p.transition_requests).where(key_in_scope(c.model_name)).order_by(c.id.desc()).limit(limit)
        if model_name:
            query = query.where(c.model_name == model_key(model_name))
        if status:
            query = query.where(c.status == status)
        with self.db.read() as conn:
            return self._with_events(conn, conn.execute(query).all())

    def _with_events(self, conn: Connection, rows: Any) -> list[TransitionRequest]:
        out = [TransitionRequest(r.id, shown_name(r.model_name), r.version, r.alias, r.status, r.requested_by,
                                 r.created_ms,
                                 r.updated_ms) for r in rows]
        if out:
            e = p.transition_request_events.c
            by_id = {r.id: r for r in out}
            for ev in conn.execute(select(p.transition_request_events)
                                   .where(e.request_id.in_(list(by_id))).order_by(e.id)).all():
                by_id[ev.request_id].events.append({"action": ev.action, "user_id": ev.user_id,
                                                    "comment": ev.comment, "timestamp": ev.timestamp})
        return out

    # ---- rollouts -------------------------------------------------------------

    def set_rollout(self, r: Rollout, action: str) -> None:
        with self.db.write() as conn:
            conn.exec_driver_sql(self._upsert_rollout, (
                model_key(r.model_name), r.alias, r.stable_version, r.candidate_version, r.mode, r.weight, r.state,
                json.dumps(r.spec), r.created_ms, r.updated_ms, r.updated_by))
            self.audit(conn, r.model_name, f"rollout_{action}", r.updated_by, r.updated_ms,
                       version=int(r.candidate_version), key=r.alias,
                       new=f"{r.mode} {r.weight:g} {r.state} (stable {r.stable_version})")
            enqueue_event(conn, "rollout.updated", {**r.to_dict(), **_named(r.model_name, "model_name"),
                                                    "action": action}, r.updated_ms)

    def get_rollout(self, model_name: str, alias: str) -> Rollout | None:
        c = p.rollouts.c
        with self.db.read() as conn:
            row = conn.execute(select(p.rollouts).where(c.model_name == model_key(model_name),
                                                        c.alias == alias)).first()
        return None if row is None else _rollout(row)

    def list_rollouts(self, model_name: str | None) -> list[Rollout]:
        c = p.rollouts.c
        query = select(p.rollouts).where(key_in_scope(c.model_name)).order_by(c.model_name, c.alias)
        if model_name:
            query = query.where(c.model_name == model_key(model_name))
        with self.db.read() as conn:
            return [_rollout(r) for r in conn.execute(query).all()]


def _named(model: str, field: str = "name") -> dict[str, str]:
    """A webhook payload's model: its bare name and its workspace."""
    workspace, name = split_model_key(model_key(model))
    return {field: name, "workspace": workspace}


def _promotion(r: Any) -> Promotion:
    return Promotion(r.id, shown_name(r.model_name), r.version, r.alias, r.status, r.champion_version,
                     json.loads(r.checks),
                     json.loads(r.policy), r.request_id, r.user_id, r.created_ms)


def _rollout(r: Any) -> Rollout:
    return Rollout(shown_name(r.model_name), r.alias, r.stable_version, r.candidate_version, r.mode, float(r.weight),
                   r.state,
                   json.loads(r.spec), r.created_ms, r.updated_ms, r.updated_by)

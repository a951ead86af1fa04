"""Pipeline triggers and their events — the rules: model-version polling, HTTP/API firing with a token, claims."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, cast

from ..errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from . import limits
from .experiments import now_ms
from .pipeline_registry import PipelineRegistry
from .pipeline_values import (
    check_executor,
    check_name,
    from_json,
    to_json,
)

TRIGGER_KINDS = ("model_version", "http", "api")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TriggersService:
    """The trigger methods of :class:`~modelyard.service.pipelines.PipelinesService`."""

    _p: Any
    registry: PipelineRegistry  # what the server may run (PipelinesService.registry)
    _changed: Callable[[], None]  # wakes the scheduler (PipelinesService.add_listener)

    def create_trigger(
        self, name: str, kind: str, reference: str, params: dict[str, Any] | None = None,
        executor: str | None = None, config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A trigger and its secret token (returned here only; the store keeps its SHA-256)."""
        check_name("trigger", name)
        if kind not in TRIGGER_KINDS:
            raise InvalidParameterValue(f"Unknown trigger kind {kind!r}: use one of {', '.join(TRIGGER_KINDS)}.")
        reference = self.registry.require(reference, "reference").name
        check_executor(executor)
        config = dict(config or {})
        cursor = None
        if kind == "model_version":
            model = config.get("model")
            if not model:
                raise InvalidParameterValue("A model_version trigger needs config {'model': NAME}.")
            cursor = str(max([0, *(v for v, _ in self._p.model_versions_after(model, 0))]))
        if self._p.triggers(name):
            raise ResourceAlreadyExists(f"Trigger {name!r} already exists.")
        token = secrets.token_urlsafe(32)
        self._p.insert_trigger({
            "name": name, "kind": kind, "reference": reference, "params": to_json(params or {}), "executor": executor,
            "config": to_json(config), "token_hash": _hash_token(token), "cursor": cursor, "paused": False,
            "created_time": now_ms(),
        })
        self._changed()
        out = self.get_trigger(name)
        out["token"] = token
        return out

    def get_trigger(self, name: str) -> dict[str, Any]:
        rows = self._p.triggers(name)
        if not rows:
            raise ResourceDoesNotExist(f"Trigger {name!r} does not exist.")
        return _trigger_dict(rows[0])

    def list_triggers(self) -> list[dict[str, Any]]:
        return [_trigger_dict(r) for r in self._p.triggers()]

    def set_trigger_paused(self, name: str, paused: bool) -> dict[str, Any]:
        self.get_trigger(name)
        self._p.update_trigger(name, paused=bool(paused))
        if not paused:
            self._changed()
        return self.get_trigger(name)

    def delete_trigger(self, name: str) -> None:
        if not self._p.delete_trigger(name):
            raise ResourceDoesNotExist(f"Trigger {name!r} does not exist.")

    def fire_trigger(
        self, name: str, payload: dict[str, Any] | None = None, dedupe_key: str | None = None, token: str | None = None,
        *, authenticate: bool = False,
    ) -> dict[str, Any]:
        """Queue a run of the trigger's pipeline; the scheduler worker launches it.

        ``authenticate`` (the HTTP endpoint) requires the trigger's token. The same
        ``dedupe_key`` fires once. Returns ``{"event_id": N | None, "duplicate": bool}``.
        """
        rows = self._p.triggers(name)
        if not rows:
            raise (PermissionDenied("Invalid trigger or token.") if authenticate else
                   ResourceDoesNotExist(f"Trigger {name!r} does not exist."))
        row = rows[0]
        if authenticate and not (token and hmac.compare_digest(_hash_token(token), row["token_hash"] or "")):
            raise PermissionDenied("Invalid trigger or token.")
        if row["paused"]:
            raise InvalidParameterValue(f"Trigger {name!r} is paused.")
        key = dedupe_key or secrets.token_hex(16)
        event_id = self._p.insert_event(row["id"], key[:250], to_json(payload or {}) or "{}", now_ms())
        if event_id is not None:
            self._changed()
        return {"event_id": event_id, "duplicate": event_id is None}

    def poll_model_versions(self) -> int:
        """Fire model_version triggers for versions registered since their cursor; the number fired."""
        fired = 0
        for row in self._p.triggers(kind="model_version"):
            if row["paused"]:
                continue
            model = (from_json(row["config"]) or {}).get("model")
            seen = int(row["cursor"] or 0)
            newer = self._p.model_versions_after(model, seen)
            for version, run_id in newer:
                payload = {"model_name": model, "model_version": str(version), "model_run_id": run_id}
                if self._p.insert_event(row["id"], f"v{version}", to_json(payload) or "{}", now_ms()) is not None:
                    fired += 1
            if newer:
                self._p.advance_cursor(row["id"], row["cursor"], str(newer[-1][0]))
        return fired

    def claim_events(self, limit: int = 20, owner: str | None = None, lease_ms: int | None = None,
                     now: int | None = None) -> list[dict[str, Any]]:
        """Pending trigger events this caller won, each with its trigger.

        A scheduler passes its ``owner`` id and ``lease_ms``: it then holds each
        claim until ``now + lease_ms`` unless it renews it (:meth:`renew_events`),
        and another scheduler may take an expired one over (:meth:`take_over_events`).
        """
        now = now_ms() if now is None else now
        until = None if owner is None or lease_ms is None else now + lease_ms
        triggers = {t["id"]: t for t in self._p.triggers()}
        won = []
        for ev in self._p.pending_events(limit):
            if ev["trigger_id"] in triggers and self._p.claim_event(ev["id"], now, owner, until):
                won.append(_event_dict(ev, triggers[ev["trigger_id"]]))
        return won

    def take_over_events(self, owner: str, now: int, lease_ms: int, limit: int = 20) -> list[dict[str, Any]]:
        """Take over trigger events whose claimer's lease ran out before their run recorded itself.

        Each is won by one caller (compare-and-set), then held like a fresh claim
        (``"taken_over": True``). An event whose trigger is gone is finished as ``skipped``.
        """
        triggers = {t["id"]: t for t in self._p.triggers()}
        won = []
        for ev in self._p.expired_events(now, limit):
            if not self._p.take_over_event(ev["id"], owner, now, now + lease_ms):
                continue
            if ev["trigger_id"] not in triggers:
                self._p.finish_event(ev["id"], owner, "skipped")
                continue
            won.append({**_event_dict(ev, triggers[ev["trigger_id"]]), "taken_over": True})
        return won

    def renew_events(self, owner: str, event_ids: list[int], now: int, lease_ms: int) -> list[int]:
        """Extend ``owner``'s leases; the ids it still holds (not yet recorded by their run, nor taken over)."""
        return cast("list[int]", self._p.renew_events(owner, [int(e) for e in event_ids], now + lease_ms))

    def finish_event(self, event_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim on an event with ``status`` (e.g. ``failed``), if it still holds it."""
        return bool(self._p.finish_event(int(event_id), owner, status))

    def set_event(self, event_id: int, status: str) -> None:
        self._p.set_event(int(event_id), status)

    def trigger_events(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        limits.check_max_results(max_results, 10_000)
        out = []
        for ev in self._p.events(self.get_trigger(name)["id"], max_results):
            ev = dict(ev)
            ev["payload"] = from_json(ev["payload"])
            out.append(ev)
        return out


def _event_dict(ev: dict[str, Any], trigger: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": ev["id"], "payload": from_json(ev["payload"]) or {}, "trigger": _trigger_dict(trigger)}


def _trigger_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "token_hash"}
    out["params"] = from_json(row["params"]) or {}
    out["config"] = from_json(row["config"]) or {}
    out["paused"] = bool(row["paused"])
    return out

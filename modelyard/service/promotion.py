"""Promotion: policies per model and alias, the gates, transition requests, protected aliases.

``promote(name, version, alias)`` runs the alias's policy on the version (``promotion_gates``),
then in one unit of work records every check's result and evidence (a ``promotions`` row, the
version's ``modelyard.promotion.<alias>`` tag, the audit trail, a ``promotion.passed|failed``
webhook event) and, only when every gate passed, moves the alias. It is the only way a protected
alias moves (:data:`~.registry.PROTECTED_ALIASES_TAG`): the registry refuses everyone else.

Transition requests carry the approval gate: request, comment, approve, reject, cancel, each
recorded with who and when. An approver holds MANAGE on the registered model (admins do) or is
named in the policy's approval gate; with ``allow_self_approval`` false (the default) the
requester cannot approve their own request. Without authentication (embedded, a server without
``--auth``) nobody is checked, as everywhere else.

>>> svc.promotion.set_policy("bikes", "champion", {"gates": [{"check": "signature"}]})
>>> svc.promotion.promote("bikes", 2, "champion")["passed"]
True
"""

from __future__ import annotations

import json
from typing import Any, cast

from ..entities.promotion import Promotion, TransitionRequest
from ..errors import InvalidParameterValue, InvalidState, PermissionDenied, ResourceDoesNotExist
from ..store import TrackingStore
from .caller import caller
from .experiments import now_ms
from .registry import _who, check_alias, check_version

__all__ = ["EVIDENCE_TAG_PREFIX", "PromotionService"]

EVIDENCE_TAG_PREFIX = "modelyard.promotion."
MAX_LIST = 1000
MAX_COMMENT = 10_000


class PromotionService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.svc = service

    @property
    def _p(self):  # type: ignore[no-untyped-def]
        return self.store.promotion

    # ---- policies -------------------------------------------------------------

    def set_policy(self, model_name: str, alias: str, policy: Any) -> dict[str, Any]:
        """Register (or replace) the policy that guards ``alias`` of ``model_name``."""
        from ..promotion.policy import check_policy, load_policy

        self.svc.registry.get_registered_model(model_name)
        check_alias(alias, setting=True)
        if isinstance(policy, str):
            policy = load_policy(policy)
        checked = check_policy(policy, model_name, alias)
        self._p.set_policy(model_name, alias, checked, _who(), now_ms())
        return self.get_policy(model_name, alias)

    def get_policy(self, model_name: str, alias: str) -> dict[str, Any]:
        found = self._p.get_policy(model_name, alias)
        if found is None:
            raise ResourceDoesNotExist(
                f"Registered model {model_name!r} has no promotion policy for alias {alias!r}; register one with"
                f" `modelyard promotion set-policy {model_name} {alias} policy.yaml`.")
        return found  # type: ignore[no-any-return]

    def list_policies(self, model_name: str | None = None) -> list[dict[str, Any]]:
        return self._p.list_policies(model_name or None)  # type: ignore[no-any-return]

    def delete_policy(self, model_name: str, alias: str) -> None:
        if not self._p.delete_policy(model_name, alias, _who(), now_ms()):
            raise ResourceDoesNotExist(f"Registered model {model_name!r} has no promotion policy for alias {alias!r}.")

    # ---- promotion ------------------------------------------------------------

    def _champion(self, name: str, alias: str) -> Any:
        return self.store.registry.version_by_alias(name, alias)

    def check(self, model_name: str, version: str | int, alias: str) -> dict[str, Any]:
        """Run the gates without recording anything or moving the alias (a dry run)."""
        checks, champion = self._run(model_name, version, alias)
        return {"model_name": model_name, "version": str(version), "alias": alias, "passed": all(c["passed"] for c in checks),
                "champion_version": None if champion is None else champion.version, "checks": checks}

    def _run(self, model_name: str, version: str | int, alias: str) -> tuple[list[dict[str, Any]], Any]:
        from .promotion_gates import GateContext, run_gates

        mv = self.svc.registry.get_model_version(model_name, version)
        check_alias(alias, setting=True)
        policy = self.get_policy(model_name, alias)["policy"]
        champion = self._champion(model_name, alias)
        if champion is not None and champion.version == mv.version:
            raise InvalidState(f"Alias {alias!r} of {model_name!r} already points at version {mv.version}.")
        ctx = GateContext(self.svc, mv, alias, champion, lambda: self._requests_of(model_name, mv.version, alias),
                          _who())
        try:
            return run_gates(ctx, policy), champion
        finally:
            ctx.close()

    def promote(self, model_name: str, version: str | int, alias: str,
                rollout: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the gates of ``alias``'s policy on the version; record them; move the alias when all pass.

        ``rollout`` (``{"mode", "weight", "rule"}``, see ``rollouts.py``): when the gates pass and the
        alias points at a version, start a rollout instead of moving the alias at once.
        """
        number = check_version(version)
        checks, champion = self._run(model_name, number, alias)
        passed = all(c["passed"] for c in checks)
        who, now = _who(), now_ms()
        policy = self.get_policy(model_name, alias)["policy"]
        approved = [r for r in self._requests_of(model_name, str(number), alias) if r.status == "approved"]
        with self.svc.unit_of_work():
            current = self._champion(model_name, alias)
            if (None if current is None else current.version) != (None if champion is None else champion.version):
                raise InvalidState(
                    f"Alias {alias!r} of {model_name!r} moved to version {current and current.version} while the"
                    " gates ran; promote again to compare with it.")
            row = self._p.record_promotion(Promotion(
                0, model_name, number, alias, "passed" if passed else "failed",
                None if champion is None else int(champion.version), checks, policy,
                int(approved[0].id) if approved else None, who, now))
            summary = {"promotion_id": str(row.id), "status": row.status, "timestamp": now,
                       "checks": {c["name"]: c["passed"] for c in checks}}
            self.store.registry.set_version_tag(model_name, number, EVIDENCE_TAG_PREFIX + alias,
                                                json.dumps(summary, sort_keys=True), who, now)
            if passed and rollout is not None and champion is not None:
                self.svc.rollouts.start(model_name, alias, number, rollout.get("mode", "canary"),
                                        rollout.get("weight", 0.1), rollout.get("rule"), gated=True)
            elif passed:
                # The one place an alias moves without the registry's protection check (rollouts.complete
                # is the other, for a version whose gates passed here).
                self.store.registry.set_alias(model_name, alias, number, who, now)
                for r in approved:
                    self._p.add_event(r.id, "promote", who, f"promotion {row.id}", now, "promoted")
        out = row.to_dict()
        out["moved"] = passed and (rollout is None or champion is None)
        out["rollout"] = passed and not out["moved"]
        out["failed_checks"] = [c["name"] for c in checks if not c["passed"]]
        return cast("dict[str, Any]", out)

    def get_promotion(self, promotion_id: str | int) -> dict[str, Any]:
        return self._p.get_promotion(_id(promotion_id, "promotion_id")).to_dict()  # type: ignore[no-any-return]

    def list_promotions(self, model_name: str, version: str | int | None = None,
                        max_results: int = 100) -> list[dict[str, Any]]:
        self.svc.registry.get_registered_model(model_name)
        number = None if version in (None, "") else check_version(version)
        return [p.to_dict() for p in self._p.list_promotions(model_name, number, _limit(max_results))]

    # ---- transition requests --------------------------------------------------

    def _requests_of(self, model_name: str, version: str, alias: str) -> list[TransitionRequest]:
        return [r for r in self._p.list_requests(model_name, None, MAX_LIST)
                if str(r.version) == str(version) and r.alias == alias]

    def request_transition(self, model_name: str, version: str | int, alias: str,
                           comment: str | None = None) -> dict[str, Any]:
        mv = self.svc.registry.get_model_version(model_name, version)
        check_alias(alias, setting=True)
        open_ = [r for r in self._requests_of(model_name, mv.version, alias) if r.status in ("open", "approved")]
        if open_:
            raise InvalidState(f"Version {mv.version} of {model_name!r} already has request {open_[0].id} to"
                               f" {alias!r} ({open_[0].status}); comment on it or cancel it first.")
        return self._p.create_request(model_name, int(mv.version), alias, _who(), _comment(comment),  # type: ignore[no-any-return]
                                      now_ms()).to_dict()

    def get_request(self, model_name: str, request_id: str | int) -> TransitionRequest:
        r = self._p.get_request(_id(request_id, "request_id"))
        if r.model_name != model_name:
            raise ResourceDoesNotExist(f"Transition request {request_id} not found for model {model_name!r}.")
        return r  # type: ignore[no-any-return]

    def list_requests(self, model_name: str | None = None, status: str | None = None,
                      max_results: int = 100) -> list[dict[str, Any]]:
        if status and status not in ("open", "approved", "rejected", "cancelled", "promoted"):
            raise InvalidParameterValue(f"status: {status!r}; use open, approved, rejected, cancelled or promoted.")
        return [r.to_dict() for r in self._p.list_requests(model_name or None, status or None, _limit(max_results))]

    def comment(self, model_name: str, request_id: str | int, comment: str) -> dict[str, Any]:
        r = self.get_request(model_name, request_id)
        if not comment:
            raise InvalidParameterValue("Missing value for required parameter 'comment'.")
        return self._p.add_event(r.id, "comment", _who(), _comment(comment), now_ms(), None).to_dict()  # type: ignore[no-any-return]

    def approve(self, model_name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        r = self._open(model_name, request_id, "approve")
        gate = self._approval_gate(r)
        who = self._require_approver(r, gate)
        approvers = r.approvers() + ([] if who in r.approvers() else [who])
        status = "approved" if len(approvers) >= gate.get("min_approvals", 1) else None
        return self._p.add_event(r.id, "approve", who, _comment(comment), now_ms(), status).to_dict()  # type: ignore[no-any-return]

    def reject(self, model_name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        r = self._open(model_name, request_id, "reject")
        who = self._require_approver(r, self._approval_gate(r))
        return self._p.add_event(r.id, "reject", who, _comment(comment), now_ms(), "rejected").to_dict()  # type: ignore[no-any-return]

    def cancel(self, model_name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        r = self._open(model_name, request_id, "cancel")
        who = caller.get()
        if who is not None and who.username != r.requested_by:
            self._require_approver(r, self._approval_gate(r))
        return self._p.add_event(r.id, "cancel", _who(), _comment(comment), now_ms(), "cancelled").to_dict()  # type: ignore[no-any-return]

    def _open(self, model_name: str, request_id: str | int, action: str) -> TransitionRequest:
        r = self.get_request(model_name, request_id)
        if r.status not in ("open", "approved"):
            raise InvalidState(f"Transition request {r.id} is {r.status}; only an open request can be {action}d"
                               " (request the transition again).")
        return r

    def _approval_gate(self, r: TransitionRequest) -> dict[str, Any]:
        found = self._p.get_policy(r.model_name, r.alias)
        gates = [] if found is None else [g for g in found["policy"]["gates"] if g["check"] == "approval"]
        return gates[0] if gates else {"approvers": [], "min_approvals": 1, "allow_self_approval": False}

    def is_approver(self, model_name: str, alias: str) -> bool:
        """Whether the caller may approve transitions of ``model_name`` to ``alias``."""
        who = caller.get()
        if who is None or who.is_admin:
            return True
        found = self._p.get_policy(model_name, alias)
        named = [a for g in (found["policy"]["gates"] if found else []) if g["check"] == "approval"
                 for a in g["approvers"]]
        return who.username in named or self.svc.auth.level(who, "registered_model", model_name) == "MANAGE"

    def _require_approver(self, r: TransitionRequest, gate: dict[str, Any]) -> str | None:
        who = caller.get()
        if who is None:  # nobody is checked without authentication
            return _who()
        if not self.is_approver(r.model_name, r.alias):
            raise PermissionDenied(
                f"{who.username} may not approve or reject transitions of {r.model_name!r}: approvers hold MANAGE"
                " on the model or are named in its policy's approval gate.")
        if who.username == r.requested_by and not gate.get("allow_self_approval"):
            raise PermissionDenied(
                f"{who.username} requested transition {r.id} and may not approve or reject it; another approver"
                " must (or set allow_self_approval in the policy's approval gate).")
        return who.username


def _comment(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_COMMENT:
        raise InvalidParameterValue(f"comment: {len(text)} characters; at most {MAX_COMMENT}.")
    return text or None


def _id(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"{field}: {value!r} is not an id; give the number of a {field[:-3]}.") from None


def _limit(value: int) -> int:
    if not isinstance(value, int) or not 1 <= value <= MAX_LIST:
        raise InvalidParameterValue(f"max_results: {value!r}; give 1 to {MAX_LIST}.")
    return value

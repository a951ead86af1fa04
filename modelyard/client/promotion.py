"""Promotion methods of ``Client``: policies, gates, transition requests, rollouts.

>>> c = my.Client()
>>> c.set_promotion_policy("bikes", "champion", open("policy.yaml").read())
>>> rid = c.request_transition("bikes", 2, "champion")["id"]
>>> c.approve_transition_request("bikes", rid)           # as an approver
>>> result = c.promote("bikes", 2, "champion")
>>> result["passed"], [ch["message"] for ch in result["checks"]]

Each method is one operation of the table (``api/promotion.py``), in process or over HTTP: the
server runs the gates, so a client cannot skip them.
"""

from __future__ import annotations

from typing import Any

from ..api import promotion as ops
from ..api import schemas_promotion as s
from ..api.operations import Operation


class PromotionMethods:

    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    # ---- policies -------------------------------------------------------------

    def set_promotion_policy(self, name: str, alias: str, policy: dict[str, Any] | str) -> dict[str, Any]:
        """Register the policy guarding ``alias`` of model ``name``: a mapping, or YAML text."""
        req = (s.SetPolicy(name=name, alias=alias, policy_yaml=policy) if isinstance(policy, str)
               else s.SetPolicy(name=name, alias=alias, policy=policy))
        return self._call(ops.SET_POLICY, req)

    def get_promotion_policy(self, name: str, alias: str) -> dict[str, Any]:
        return self._call(ops.GET_POLICY, s.PolicyKey(name=name, alias=alias))

    def list_promotion_policies(self, name: str | None = None) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_POLICIES, s.ListPolicies(name=name))["policies"])

    def delete_promotion_policy(self, name: str, alias: str) -> None:
        self._call(ops.DELETE_POLICY, s.PolicyKey(name=name, alias=alias))

    # ---- gates ----------------------------------------------------------------

    def promote(self, name: str, version: str | int, alias: str = "champion",
                rollout: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the gates of ``alias``'s policy on the version; the alias moves only when all pass.

        Returns the promotion: ``passed``, ``moved``, ``failed_checks`` and ``checks`` (each with
        ``message``, ``evidence`` and, when it failed, ``fix``). With ``rollout`` (``{"mode": "canary",
        "weight": 0.1, "rule": {...}}``) passed gates start a rollout instead of moving the alias.
        """
        out = self._call(ops.PROMOTE, s.Promote(name=name, version=str(version), alias=alias, rollout=rollout))
        return dict(out["promotion"])

    def check_promotion(self, name: str, version: str | int, alias: str = "champion") -> dict[str, Any]:
        """The gates' verdicts without recording them or moving the alias."""
        return self._call(ops.CHECK, s.Promote(name=name, version=str(version), alias=alias))

    def get_promotion(self, name: str, promotion_id: str | int) -> dict[str, Any]:
        return dict(self._call(ops.GET_PROMOTION, s.GetPromotion(name=name, promotion_id=str(promotion_id)))["promotion"])

    def list_promotions(self, name: str, version: str | int | None = None, max_results: int = 100) -> list[dict[str, Any]]:
        req = s.ListPromotions(name=name, version=None if version is None else str(version), max_results=max_results)
        return list(self._call(ops.LIST_PROMOTIONS, req)["promotions"])

    # ---- transition requests --------------------------------------------------

    def request_transition(self, name: str, version: str | int, alias: str = "champion",
                           comment: str | None = None) -> dict[str, Any]:
        req = s.RequestTransition(name=name, version=str(version), alias=alias, comment=comment)
        return dict(self._call(ops.CREATE_REQUEST, req)["request"])

    def get_transition_request(self, name: str, request_id: str | int) -> dict[str, Any]:
        return dict(self._call(ops.GET_REQUEST, s.RequestAction(name=name, request_id=str(request_id)))["request"])

    def list_transition_requests(self, name: str | None = None, status: str | None = None,
                                 max_results: int = 100) -> list[dict[str, Any]]:
        req = s.ListRequests(name=name, status=status, max_results=max_results)
        return list(self._call(ops.LIST_REQUESTS, req)["requests"])

    def comment_transition_request(self, name: str, request_id: str | int, comment: str) -> dict[str, Any]:
        return self._request_action(ops.COMMENT_REQUEST, name, request_id, comment)

    def approve_transition_request(self, name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        return self._request_action(ops.APPROVE_REQUEST, name, request_id, comment)

    def reject_transition_request(self, name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        return self._request_action(ops.REJECT_REQUEST, name, request_id, comment)

    def cancel_transition_request(self, name: str, request_id: str | int, comment: str | None = None) -> dict[str, Any]:
        return self._request_action(ops.CANCEL_REQUEST, name, request_id, comment)

    def _request_action(self, op: Operation, name: str, request_id: str | int, comment: str | None) -> dict[str, Any]:
        return dict(self._call(op, s.RequestAction(name=name, request_id=str(request_id), comment=comment))["request"])

    # ---- rollouts -------------------------------------------------------------

    def update_rollout(self, name: str, alias: str, action: str, *, candidate_version: str | int | None = None,
                       mode: str | None = None, weight: float | None = None,
                       rule: dict[str, Any] | None = None) -> dict[str, Any]:
        """``action``: start (needs ``candidate_version``), update, step, rollback or complete."""
        req = s.SetRollout(name=name, alias=alias, action=action, mode=mode, weight=weight, rule=rule,
                           candidate_version=None if candidate_version is None else str(candidate_version))
        return self._call(ops.UPDATE_ROLLOUT, req)

    def get_rollout(self, name: str, alias: str) -> dict[str, Any]:
        return dict(self._call(ops.GET_ROLLOUT, s.RolloutKey(name=name, alias=alias))["rollout"])

    def list_rollouts(self, name: str | None = None) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_ROLLOUTS, s.ListRollouts(name=name))["rollouts"])

"""Promotion's operations (see ``api/promotion.py``): policies, gate runs, transition requests."""

from __future__ import annotations

from typing import Any

from ...api import schemas_promotion as s
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..caller import caller


def _required(value: Any, field: str) -> str:
    if value is None or value == "":
        raise InvalidParameterValue(f"Missing value for required parameter '{field}'.")
    return str(value)


def _readable(svc: TrackingService, names: set[str]) -> set[str]:
    """The models among ``names`` the caller may read (all of them without authentication)."""
    who = caller.get()
    if who is None or who.is_admin:
        return names
    return {n for n in names if svc.auth.level(who, "registered_model", n) != "NO_PERMISSIONS"}


def set_policy(svc: TrackingService, req: s.SetPolicy) -> dict[str, Any]:
    if (req.policy is None) == (req.policy_yaml is None):
        raise InvalidParameterValue("Give the policy as 'policy' (a mapping) or 'policy_yaml' (YAML text), one of them.")
    policy = req.policy if req.policy is not None else req.policy_yaml
    return svc.promotion.set_policy(_required(req.name, "name"), _required(req.alias, "alias"), policy)


def get_policy(svc: TrackingService, req: s.PolicyKey) -> dict[str, Any]:
    return svc.promotion.get_policy(_required(req.name, "name"), _required(req.alias, "alias"))


def list_policies(svc: TrackingService, req: s.ListPolicies) -> dict[str, Any]:
    found = svc.promotion.list_policies(req.name)
    ok = _readable(svc, {p["model_name"] for p in found})
    return {"policies": [p for p in found if p["model_name"] in ok]}


def delete_policy(svc: TrackingService, req: s.PolicyKey) -> dict[str, Any]:
    svc.promotion.delete_policy(_required(req.name, "name"), _required(req.alias, "alias"))
    return {}


def promote(svc: TrackingService, req: s.Promote) -> dict[str, Any]:
    return {"promotion": svc.promotion.promote(_required(req.name, "name"), _required(req.version, "version"),
                                               _required(req.alias, "alias"), req.rollout)}


def check(svc: TrackingService, req: s.Promote) -> dict[str, Any]:
    return svc.promotion.check(_required(req.name, "name"), _required(req.version, "version"),
                               _required(req.alias, "alias"))


def get_promotion(svc: TrackingService, req: s.GetPromotion) -> dict[str, Any]:
    name = _required(req.name, "name")
    found = svc.promotion.get_promotion(_required(req.promotion_id, "promotion_id"))
    if found["model_name"] != name:
        from ...errors import ResourceDoesNotExist

        raise ResourceDoesNotExist(f"Promotion {req.promotion_id} not found for model {name!r}.")
    return {"promotion": found}


def list_promotions(svc: TrackingService, req: s.ListPromotions) -> dict[str, Any]:
    return {"promotions": svc.promotion.list_promotions(_required(req.name, "name"), req.version, req.max_results)}


def create_request(svc: TrackingService, req: s.RequestTransition) -> dict[str, Any]:
    return {"request": svc.promotion.request_transition(
        _required(req.name, "name"), _required(req.version, "version"), _required(req.alias, "alias"), req.comment)}


def get_request(svc: TrackingService, req: s.RequestAction) -> dict[str, Any]:
    return {"request": svc.promotion.get_request(_required(req.name, "name"),
                                                 _required(req.request_id, "request_id")).to_dict()}


def list_requests(svc: TrackingService, req: s.ListRequests) -> dict[str, Any]:
    found = svc.promotion.list_requests(req.name, req.status, req.max_results)
    ok = _readable(svc, {r["model_name"] for r in found})
    return {"requests": [r for r in found if r["model_name"] in ok]}


def comment_request(svc: TrackingService, req: s.RequestAction) -> dict[str, Any]:
    return {"request": svc.promotion.comment(_required(req.name, "name"), _required(req.request_id, "request_id"),
                                             _required(req.comment, "comment"))}


def approve_request(svc: TrackingService, req: s.RequestAction) -> dict[str, Any]:
    return {"request": svc.promotion.approve(_required(req.name, "name"), _required(req.request_id, "request_id"),
                                             req.comment)}


def reject_request(svc: TrackingService, req: s.RequestAction) -> dict[str, Any]:
    return {"request": svc.promotion.reject(_required(req.name, "name"), _required(req.request_id, "request_id"),
                                            req.comment)}


def cancel_request(svc: TrackingService, req: s.RequestAction) -> dict[str, Any]:
    return {"request": svc.promotion.cancel(_required(req.name, "name"), _required(req.request_id, "request_id"),
                                            req.comment)}


def update_rollout(svc: TrackingService, req: s.SetRollout) -> dict[str, Any]:
    name, alias, action = _required(req.name, "name"), _required(req.alias, "alias"), req.action or "start"
    r = svc.rollouts
    if action == "start":
        out = r.start(name, alias, _required(req.candidate_version, "candidate_version"), req.mode or "canary",
                      0.1 if req.weight is None else req.weight, req.rule)
    elif action == "update":
        out = r.update(name, alias, req.mode, req.weight)
    elif action == "rollback":
        out = r.rollback(name, alias, "rolled back by hand")
    elif action == "complete":
        out = r.complete(name, alias)
    elif action == "step":
        return r.step(name, alias)
    else:
        raise InvalidParameterValue(f"action: {action!r}; use start, update, step, rollback or complete.")
    return {"action": action, "rollout": out.to_dict()}


def get_rollout(svc: TrackingService, req: s.RolloutKey) -> dict[str, Any]:
    return {"rollout": svc.rollouts.get(_required(req.name, "name"), _required(req.alias, "alias")).to_dict()}


def list_rollouts(svc: TrackingService, req: s.ListRollouts) -> dict[str, Any]:
    found = svc.rollouts.list(req.name)
    ok = _readable(svc, {r.model_name for r in found})
    return {"rollouts": [r.to_dict() for r in found if r.model_name in ok]}

"""Request bodies and queries of the promotion routes (``/api/2.0/modelyard/promotion/...``)."""

from __future__ import annotations

from typing import Any

from .schemas import Int64, Request

__all__ = [
    "GetPromotion", "ListPolicies", "ListPromotions", "ListRequests", "ListRollouts", "PolicyKey", "Promote",
    "RequestAction", "RequestTransition", "RolloutKey", "SetPolicy", "SetRollout",
]


class SetPolicy(Request):
    name: str = ""
    alias: str = ""
    policy: dict[str, Any] | None = None
    policy_yaml: str | None = None  # the same policy as YAML text (a file kept with the model's project)


class PolicyKey(Request):
    name: str = ""
    alias: str = ""


class ListPolicies(Request):
    name: str | None = None


class Promote(Request):
    name: str = ""
    version: str = ""
    alias: str = ""
    rollout: dict[str, Any] | None = None  # {"mode", "weight", "rule"}: roll out instead of moving the alias


class GetPromotion(Request):
    name: str = ""
    promotion_id: str = ""


class ListPromotions(Request):
    name: str = ""
    version: str | None = None
    max_results: Int64 = 100


class RequestTransition(Request):
    name: str = ""
    version: str = ""
    alias: str = ""
    comment: str | None = None


class RequestAction(Request):
    name: str = ""
    request_id: str = ""
    comment: str | None = None


class ListRequests(Request):
    name: str | None = None
    status: str | None = None
    max_results: Int64 = 100


class SetRollout(Request):
    name: str = ""
    alias: str = ""
    candidate_version: str | None = None
    mode: str | None = None  # shadow, canary, all
    weight: float | None = None
    action: str | None = None  # start (default), update, advance, rollback, complete
    rule: dict[str, Any] | None = None


class RolloutKey(Request):
    name: str = ""
    alias: str = ""


class ListRollouts(Request):
    name: str | None = None

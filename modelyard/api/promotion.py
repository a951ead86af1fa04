"""Operations on promotion: policies, gate runs, transition requests, serving rollouts (our extension).

Registering a policy needs MANAGE on the registered model; running the gates (``promote``,
``check``) and requesting a transition EDIT; reading, commenting READ. Approving or rejecting
needs READ here and, checked by the service, to be an approver (MANAGE on the model, or named in
the policy's approval gate). Webhook events of these operations are our extension events
(``promotion.passed``, ``transition_request.approved``... see ``entities/webhooks.py``).
"""

from __future__ import annotations

from . import schemas_promotion as s
from .operations import EXT, Table, edit, manage, read

t = Table("promotion", "modelyard.service.handlers")
P = f"{EXT}/promotion"
MODEL_READ = read("registered_model", "name")
MODEL_EDIT = edit("registered_model", "name")
MODEL_MANAGE = manage("registered_model", "name")

SET_POLICY = t.add("set_promotion_policy", "POST", f"{P}/policies/set", s.SetPolicy, "promotion:set_policy",
                   MODEL_MANAGE, idempotent=True,
                   summary="Register the policy (gates) that guards an alias of a registered model.")
GET_POLICY = t.add("get_promotion_policy", "GET", f"{P}/policies/get", s.PolicyKey, "promotion:get_policy",
                   MODEL_READ, idempotent=True, summary="The policy of a model's alias.")
LIST_POLICIES = t.add("list_promotion_policies", "GET", f"{P}/policies/list", s.ListPolicies,
                      "promotion:list_policies", read(), idempotent=True,
                      summary="Policies, of one model or of every model the caller may read.")
DELETE_POLICY = t.add("delete_promotion_policy", "POST", f"{P}/policies/delete", s.PolicyKey,
                      "promotion:delete_policy", MODEL_MANAGE, idempotent=True, summary="Remove a policy.")
PROMOTE = t.add("promote_model_version", "POST", f"{P}/promote", s.Promote, "promotion:promote", MODEL_EDIT,
                summary="Run the alias's gates on a version; record them; move the alias when every gate passes.")
CHECK = t.add("check_model_version", "POST", f"{P}/check", s.Promote, "promotion:check", MODEL_EDIT,
              idempotent=True, summary="Run the gates without recording them or moving the alias (a dry run).")
GET_PROMOTION = t.add("get_promotion", "GET", f"{P}/promotions/get", s.GetPromotion, "promotion:get_promotion",
                      MODEL_READ, idempotent=True, summary="One promotion with every check's result and evidence.")
LIST_PROMOTIONS = t.add("list_promotions", "GET", f"{P}/promotions/list", s.ListPromotions,
                        "promotion:list_promotions", MODEL_READ, idempotent=True,
                        summary="A model's promotions (of one version or all), newest first.")
CREATE_REQUEST = t.add("create_transition_request", "POST", f"{P}/requests/create", s.RequestTransition,
                       "promotion:create_request", MODEL_EDIT, summary="Ask for a version to take an alias.")
GET_REQUEST = t.add("get_transition_request", "GET", f"{P}/requests/get", s.RequestAction,
                    "promotion:get_request", MODEL_READ, idempotent=True,
                    summary="A transition request with its history.")
LIST_REQUESTS = t.add("list_transition_requests", "GET", f"{P}/requests/list", s.ListRequests,
                      "promotion:list_requests", read(), idempotent=True,
                      summary="Transition requests, of one model or every model the caller may read, by status.")
COMMENT_REQUEST = t.add("comment_transition_request", "POST", f"{P}/requests/comment", s.RequestAction,
                        "promotion:comment_request", MODEL_READ, summary="Comment on a transition request.")
APPROVE_REQUEST = t.add("approve_transition_request", "POST", f"{P}/requests/approve", s.RequestAction,
                        "promotion:approve_request", MODEL_READ,
                        summary="Approve a transition request (approvers only).")
REJECT_REQUEST = t.add("reject_transition_request", "POST", f"{P}/requests/reject", s.RequestAction,
                       "promotion:reject_request", MODEL_READ, summary="Reject a transition request (approvers only).")
CANCEL_REQUEST = t.add("cancel_transition_request", "POST", f"{P}/requests/cancel", s.RequestAction,
                       "promotion:cancel_request", MODEL_READ,
                       summary="Cancel a transition request (its requester or an approver).")
UPDATE_ROLLOUT = t.add("update_rollout", "POST", f"{P}/rollouts/update", s.SetRollout, "promotion:update_rollout",
                       MODEL_EDIT, summary="Start, advance, step (by its rule), roll back or complete a rollout.")
GET_ROLLOUT = t.add("get_rollout", "GET", f"{P}/rollouts/get", s.RolloutKey, "promotion:get_rollout", MODEL_READ,
                    idempotent=True, summary="A model alias's rollout, as serve processes follow it.")
LIST_ROLLOUTS = t.add("list_rollouts", "GET", f"{P}/rollouts/list", s.ListRollouts, "promotion:list_rollouts", read(),
                      idempotent=True, summary="Rollouts, of one model or of every model the caller may read.")

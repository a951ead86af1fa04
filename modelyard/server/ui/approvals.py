"""The approvers' queue: transition requests waiting for a decision, approved or rejected from the page.

The page lists the open (and approved, not yet promoted) requests of the models the caller may read;
its buttons call the promotion service's ``approve`` and ``reject``, which refuse anyone who is not an
approver of the model (MANAGE on it, or named in its policy's approval gate) and a requester approving
their own request, as the REST operations do.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...errors import ModelyardError
from ..auth import readable
from .render import done, inline_status, render, service

WAITING = ("open", "approved")
SHOWN = 200


def approvals_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    promotion = service(request).promotion
    found = [r for state in WAITING for r in promotion.list_requests(None, state, SHOWN)]
    visible = readable(request, "registered_model", {r["model_name"] for r in found})
    waiting = sorted((r for r in found if r["model_name"] in visible), key=lambda r: r["created_ms"])
    approver = {(r["model_name"], r["alias"]): promotion.is_approver(r["model_name"], r["alias"]) for r in waiting}
    return render(request, "approvals.html", status=status, section="approvals", waiting=waiting,
                  approver=approver, error=error)


def _decide(request: Request, form: FormData, verdict: str) -> Response:
    name, request_id = request.path_params["name"], request.path_params["request_id"]
    comment = str(form.get("comment") or "").strip() or None
    promotion: Any = service(request).promotion
    try:
        (promotion.approve if verdict == "approve" else promotion.reject)(name, request_id, comment)
    except ModelyardError as exc:
        return approvals_page(request, error=exc.message, status=inline_status(request))
    return done(request, "/approvals")


def approve(request: Request, form: FormData) -> Response:
    return _decide(request, form, "approve")


def reject(request: Request, form: FormData) -> Response:
    return _decide(request, form, "reject")

"""/webhooks: MLflow 3's webhook API (create, list, get, update, delete, test), plus delivery history.

MLflow's shapes: events travel as ``{"entity": "MODEL_VERSION", "action": "CREATED"}``;
our SDK may also send them as strings (``"model_version.stage_changed"``, an
event MLflow's enums cannot carry). Responses list MLflow's events in
``events`` and every event in ``event_names``. ``GET /webhooks`` leaves out
webhooks with none of MLflow's events (``MlflowClient`` could not read them)
unless ``include_all=true``.

Our extension: ``GET /api/2.0/modelyard/webhooks/{webhook_id}/deliveries``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...api.schemas_webhooks import (
    CreateWebhook,
    EventIn,
    EventsIn,
    ListDeliveries,
    ListWebhooks,
    TestWebhook,
    UpdateWebhook,
    WebhookId,
)
from ...errors import InvalidParameterValue
from .. import TrackingService
from . import page_answer


def _event(item: str | EventIn) -> str:
    if isinstance(item, str):
        return item
    if not item.entity or not item.action:
        raise InvalidParameterValue(f"Invalid webhook event {msgspec.to_builtins(item)}: give entity and action.")
    return f"{item.entity}.{item.action}".lower()


def _events(items: EventsIn) -> list[str] | None:
    return None if items is None else [_event(e) for e in items]


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
    return value


def create(svc: TrackingService, req: CreateWebhook) -> dict[str, Any]:
    hook = svc.webhooks.create_webhook(
        _required(req.name, "name"), _required(req.url, "url"), _events(req.events) or [],
        req.description, req.secret, req.status)
    return {"webhook": hook.to_dict()}


def list_(svc: TrackingService, req: ListWebhooks) -> dict[str, Any]:
    page = svc.webhooks.list_webhooks(req.max_results, req.page_token, mlflow_only=not req.include_all)
    return page_answer("webhooks", page)


def get(svc: TrackingService, req: WebhookId) -> dict[str, Any]:
    return {"webhook": svc.webhooks.get_webhook(req.webhook_id or "").to_dict()}


def update(svc: TrackingService, req: UpdateWebhook) -> dict[str, Any]:
    hook = svc.webhooks.update_webhook(
        req.webhook_id or "", name=req.name or None, description=req.description, url=req.url or None,
        events=_events(req.events) or None, secret=req.secret, status=req.status)
    return {"webhook": hook.to_dict()}


def delete(svc: TrackingService, req: WebhookId) -> None:
    svc.webhooks.delete_webhook(req.webhook_id or "")


def test(svc: TrackingService, req: TestWebhook) -> dict[str, Any]:
    event = None if req.event is None else _event(req.event)
    return {"result": svc.webhooks.test_webhook(req.webhook_id or "", event).to_dict()}


def deliveries(svc: TrackingService, req: ListDeliveries) -> dict[str, Any]:
    page = svc.webhooks.deliveries(req.webhook_id or "", req.max_results, req.page_token)
    return page_answer("deliveries", page)

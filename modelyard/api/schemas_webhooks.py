"""Declared request schemas of MLflow 3's webhook API (``webhooks.proto``), plus our delivery history.

Events travel as MLflow's ``{"entity": "MODEL_VERSION", "action": "CREATED"}`` or, from our
SDK, as ``"entity.action"`` strings (``"model_version.stage_changed"``, an event MLflow's enums
cannot carry). ``webhook_id`` comes from the path.
"""

from __future__ import annotations

from .schemas import Int64, Request


class EventIn(Request):
    entity: str | None = None
    action: str | None = None


EventsIn = list[str | EventIn] | None


class CreateWebhook(Request):
    name: str | None = None
    url: str | None = None
    events: EventsIn = None
    description: str | None = None
    secret: str | None = None
    status: str | None = None


class UpdateWebhook(CreateWebhook):
    webhook_id: str | None = None


class ListWebhooks(Request):
    max_results: Int64 | None = None
    page_token: str | None = None
    include_all: bool = False


class WebhookId(Request):
    webhook_id: str | None = None


class TestWebhook(WebhookId):
    event: str | EventIn | None = None


class ListDeliveries(WebhookId):
    max_results: Int64 | None = None
    page_token: str | None = None

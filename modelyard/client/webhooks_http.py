"""Webhooks methods of the HTTP transport (MLflow's webhook API, plus our delivery history)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..entities import PagedList
from ..service.webhooks import Webhook, WebhookDelivery, WebhookTestResult

HOOKS = "/api/2.0/mlflow/webhooks"
DELIVERIES = "/api/2.0/modelyard/webhooks/{}/deliveries"


def _q(webhook_id: str) -> str:
    return quote(webhook_id, safe="")


def _page(params: dict[str, Any], max_results: int | None, page_token: str | None) -> dict[str, Any]:
    if max_results is not None:
        params["max_results"] = max_results
    if page_token:
        params["page_token"] = page_token
    return params


class HttpWebhooks:
    send: Callable[..., dict[str, Any]]

    def create_webhook(self, name: str, url: str, events: list[str], description: str | None, secret: str | None,
                       status: str | None) -> Webhook:
        body: dict[str, Any] = {"name": name, "url": url, "events": events}
        for key, value in (("description", description), ("secret", secret), ("status", status)):
            if value is not None:
                body[key] = value
        return Webhook.from_dict(self.send("POST", HOOKS, body)["webhook"])

    def get_webhook(self, webhook_id: str) -> Webhook:
        return Webhook.from_dict(self.send("GET", f"{HOOKS}/{_q(webhook_id)}")["webhook"])

    def list_webhooks(self, max_results: int | None, page_token: str | None) -> PagedList:
        out = self.send("GET", HOOKS, params=_page({"include_all": "true"}, max_results, page_token))
        return PagedList([Webhook.from_dict(h) for h in out.get("webhooks", [])], out.get("next_page_token") or None)

    def update_webhook(self, webhook_id: str, name: str | None, description: str | None, url: str | None,
                       events: list[str] | None, secret: str | None, status: str | None) -> Webhook:
        body = {k: v for k, v in (("name", name), ("description", description), ("url", url), ("events", events),
                                  ("secret", secret), ("status", status)) if v is not None}
        return Webhook.from_dict(self.send("PATCH", f"{HOOKS}/{_q(webhook_id)}", body)["webhook"])

    def delete_webhook(self, webhook_id: str) -> None:
        self.send("DELETE", f"{HOOKS}/{_q(webhook_id)}")

    def test_webhook(self, webhook_id: str, event: str | None) -> WebhookTestResult:
        body = {} if event is None else {"event": event}
        return WebhookTestResult.from_dict(self.send("POST", f"{HOOKS}/{_q(webhook_id)}/test", body).get("result", {}))

    def list_webhook_deliveries(self, webhook_id: str, max_results: int | None, page_token: str | None) -> PagedList:
        out = self.send("GET", DELIVERIES.format(_q(webhook_id)), params=_page({}, max_results, page_token))
        items = [WebhookDelivery.from_dict(d) for d in out.get("deliveries", [])]
        return PagedList(items, out.get("next_page_token") or None)

    def deliver_webhooks(self, max_rounds: int) -> int:
        return 0  # the server's worker delivers

"""Webhooks methods of the in-process transport (they call the service)."""

from __future__ import annotations

from typing import Any

from ..entities import PagedList
from ..service.webhooks import Webhook, WebhookTestResult


class LocalWebhooks:
    service: Any

    def create_webhook(self, name: str, url: str, events: list[str], description: str | None, secret: str | None,
                       status: str | None) -> Webhook:
        return self.service.webhooks.create_webhook(name, url, events, description, secret, status)  # type: ignore[no-any-return]

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self.service.webhooks.get_webhook(webhook_id)  # type: ignore[no-any-return]

    def list_webhooks(self, max_results: int | None, page_token: str | None) -> PagedList:
        return self.service.webhooks.list_webhooks(max_results, page_token)  # type: ignore[no-any-return]

    def update_webhook(self, webhook_id: str, name: str | None, description: str | None, url: str | None,
                       events: list[str] | None, secret: str | None, status: str | None) -> Webhook:
        return self.service.webhooks.update_webhook(  # type: ignore[no-any-return]
            webhook_id, name, description, url, events, secret, status)

    def delete_webhook(self, webhook_id: str) -> None:
        self.service.webhooks.delete_webhook(webhook_id)

    def test_webhook(self, webhook_id: str, event: str | None) -> WebhookTestResult:
        return self.service.webhooks.test_webhook(webhook_id, event)  # type: ignore[no-any-return]

    def list_webhook_deliveries(self, webhook_id: str, max_results: int | None, page_token: str | None) -> PagedList:
        return self.service.webhooks.deliveries(webhook_id, max_results, page_token)  # type: ignore[no-any-return]

    def deliver_webhooks(self, max_rounds: int) -> int:
        total = 0
        for _ in range(max_rounds):
            sent = self.service.webhooks.deliver_due()
            total += sent
            if not sent:
                break
        return total

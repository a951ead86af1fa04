"""Webhooks methods of ``Client``, named and shaped as ``MlflowClient``'s, plus delivery history.

>>> c = my.Client("http://127.0.0.1:5000")
>>> hook = c.create_webhook("ci", "https://ci.example.com/hook",
...                         ["model_version.created", "model_version.stage_changed"], secret="s3cret")
>>> c.test_webhook(hook.webhook_id).success
True
>>> [d.status for d in c.list_webhook_deliveries(hook.webhook_id)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ..api import schemas_webhooks as s
from ..api import webhooks as ops
from ..api.operations import Operation
from ..entities import PagedList
from ..entities.webhooks import Webhook, WebhookDelivery, WebhookTestResult


def _names(events: Sequence[Any] | None) -> list[str | s.EventIn] | None:
    """Event names from strings or MLflow ``WebhookEvent`` objects (whose ``str`` is ``entity.action``)."""
    return None if events is None else [str(e) for e in events]


class WebhooksMethods:
    _call: Callable[[Operation, msgspec.Struct], dict[str, Any]]
    _t: Any

    def create_webhook(
        self, name: str, url: str, events: Sequence[Any], description: str | None = None,
        secret: str | None = None, status: str | None = None,
    ) -> Webhook:
        """Subscribe ``url`` to ``events`` (``"model_version.created"``, ``"model_version_alias.created"``,
        ``"model_version.stage_changed"``…); deliveries are signed with ``secret`` when given."""
        req = s.CreateWebhook(name=name, url=url, events=_names(events) or [], description=description,
                              secret=secret, status=None if status is None else str(status))
        return Webhook.from_dict(self._call(ops.CREATE_WEBHOOK, req)["webhook"])

    def get_webhook(self, webhook_id: str) -> Webhook:
        return Webhook.from_dict(self._call(ops.GET_WEBHOOK, s.WebhookId(webhook_id=webhook_id))["webhook"])

    def list_webhooks(self, max_results: int | None = None, page_token: str | None = None) -> PagedList:
        """One page of webhooks, newest first (those with only our events too)."""
        req = s.ListWebhooks(max_results=max_results, page_token=page_token or None, include_all=True)
        out = self._call(ops.LIST_WEBHOOKS, req)
        return PagedList([Webhook.from_dict(h) for h in out.get("webhooks", ())], out.get("next_page_token") or None)

    def update_webhook(
        self, webhook_id: str, name: str | None = None, description: str | None = None, url: str | None = None,
        events: Sequence[Any] | None = None, secret: str | None = None, status: str | None = None,
    ) -> Webhook:
        """Change the given fields; ``None`` leaves a field as it is."""
        req = s.UpdateWebhook(webhook_id=webhook_id, name=name, description=description, url=url,
                              events=_names(events), secret=secret, status=None if status is None else str(status))
        return Webhook.from_dict(self._call(ops.UPDATE_WEBHOOK, req)["webhook"])

    def delete_webhook(self, webhook_id: str) -> None:
        self._call(ops.DELETE_WEBHOOK, s.WebhookId(webhook_id=webhook_id))

    def test_webhook(self, webhook_id: str, event: Any = None) -> WebhookTestResult:
        """Send an example payload now (of ``event``, default the webhook's first) and report the answer."""
        req = s.TestWebhook(webhook_id=webhook_id, event=None if event is None else str(event))
        return WebhookTestResult.from_dict(self._call(ops.TEST_WEBHOOK, req).get("result", {}))

    def list_webhook_deliveries(
        self, webhook_id: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        """The webhook's deliveries, newest first: status, attempts, last response."""
        req = s.ListDeliveries(webhook_id=webhook_id, max_results=max_results, page_token=page_token or None)
        out = self._call(ops.LIST_WEBHOOK_DELIVERIES, req)
        items = [WebhookDelivery.from_dict(d) for d in out.get("deliveries", ())]
        return PagedList(items, out.get("next_page_token") or None)

    def deliver_webhooks(self, max_rounds: int = 100) -> int:
        """Send the due deliveries of an embedded store now; the number attempted.

        In process, a background thread already does this after each change;
        call it before a short script exits, or to flush retries. With a server,
        the server delivers and this returns 0.
        """
        from .transport import LocalTransport  # the store: only an in-process client delivers

        if not isinstance(self._t, LocalTransport):
            return 0  # the server's worker delivers
        total = 0
        for _ in range(max_rounds):
            sent = self._t.service.webhooks.deliver_due()
            total += sent
            if not sent:
                break
        return total

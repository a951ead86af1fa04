"""Webhooks methods of ``Client``, named and shaped as ``MlflowClient``'s, plus delivery history.

>>> c = my.Client("http://127.0.0.1:5000")
>>> hook = c.create_webhook("ci", "https://ci.example.com/hook",
...                         ["model_version.created", "model_version.stage_changed"], secret="s3cret")
>>> c.test_webhook(hook.webhook_id).success
True
>>> [d.status for d in c.list_webhook_deliveries(hook.webhook_id)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.webhooks import Webhook, WebhookTestResult


def _names(events: Sequence[Any] | None) -> list[str] | None:
    """Event names from strings or MLflow ``WebhookEvent`` objects (whose ``str`` is ``entity.action``)."""
    return None if events is None else [str(e) for e in events]


class WebhooksMethods:
    _t: Any

    def create_webhook(
        self, name: str, url: str, events: Sequence[Any], description: str | None = None,
        secret: str | None = None, status: str | None = None,
    ) -> Webhook:
        """Subscribe ``url`` to ``events`` (``"model_version.created"``, ``"model_version_alias.created"``,
        ``"model_version.stage_changed"``…); deliveries are signed with ``secret`` when given."""
        return self._t.create_webhook(name, url, _names(events), description, secret,  # type: ignore[no-any-return]
                                      None if status is None else str(status))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._t.get_webhook(webhook_id)  # type: ignore[no-any-return]

    def list_webhooks(self, max_results: int | None = None, page_token: str | None = None) -> PagedList:
        """One page of webhooks, newest first."""
        return self._t.list_webhooks(max_results, page_token)  # type: ignore[no-any-return]

    def update_webhook(
        self, webhook_id: str, name: str | None = None, description: str | None = None, url: str | None = None,
        events: Sequence[Any] | None = None, secret: str | None = None, status: str | None = None,
    ) -> Webhook:
        """Change the given fields; ``None`` leaves a field as it is."""
        return self._t.update_webhook(  # type: ignore[no-any-return]
            webhook_id, name, description, url, _names(events), secret, None if status is None else str(status))

    def delete_webhook(self, webhook_id: str) -> None:
        self._t.delete_webhook(webhook_id)

    def test_webhook(self, webhook_id: str, event: Any = None) -> WebhookTestResult:
        """Send an example payload now (of ``event``, default the webhook's first) and report the answer."""
        return self._t.test_webhook(webhook_id, None if event is None else str(event))  # type: ignore[no-any-return]

    def list_webhook_deliveries(
        self, webhook_id: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        """The webhook's deliveries, newest first: status, attempts, last response."""
        return self._t.list_webhook_deliveries(webhook_id, max_results, page_token)  # type: ignore[no-any-return]

    def deliver_webhooks(self, max_rounds: int = 100) -> int:
        """Send the due deliveries of an embedded store now; the number attempted.

        In process, a background thread already does this after each change;
        call it before a short script exits, or to flush retries. With a server,
        the server delivers and this returns 0.
        """
        return self._t.deliver_webhooks(max_rounds)  # type: ignore[no-any-return]

"""Operations on webhooks (MLflow 3's webhook API), and our delivery history.

A webhook sends the registry's events, signed with its secret, to an address of its owner's
choosing: creating one needs MANAGE on the server; changing, deleting or testing one (a test
sends a request now) MANAGE on it, reading it or its deliveries READ. Every field of ``GET`` and
``DELETE`` travels in the query string; ``webhook_id`` in the path.
"""

from __future__ import annotations

from . import schemas_webhooks as s
from .operations import API, EXT, Table, manage, read

t = Table("webhooks", "modelyard.service.handlers")
HOOKS = f"{API}/webhooks"
HOOK = f"{HOOKS}/{{webhook_id}}"
WEBHOOK = read("webhook", "webhook_id")
WEBHOOK_MANAGE = manage("webhook", "webhook_id")

CREATE_WEBHOOK = t.add("create_webhook", "POST", HOOKS, s.CreateWebhook, "webhooks:create", manage())
LIST_WEBHOOKS = t.add("list_webhooks", "GET", HOOKS, s.ListWebhooks, "webhooks:list_", read(),
                      idempotent=True)
GET_WEBHOOK = t.add("get_webhook", "GET", HOOK, s.WebhookId, "webhooks:get", WEBHOOK, idempotent=True)
UPDATE_WEBHOOK = t.add("update_webhook", "PATCH", HOOK, s.UpdateWebhook, "webhooks:update", WEBHOOK_MANAGE,
                       idempotent=True)
DELETE_WEBHOOK = t.add("delete_webhook", "DELETE", HOOK, s.WebhookId, "webhooks:delete", WEBHOOK_MANAGE,
                       idempotent=True, query=True)
# Sends an example delivery now: asked again, it sends another.
TEST_WEBHOOK = t.add("test_webhook", "POST", f"{HOOK}/test", s.TestWebhook, "webhooks:test", WEBHOOK_MANAGE)

# ---- our extension -------------------------------------------------------------
LIST_WEBHOOK_DELIVERIES = t.add("list_webhook_deliveries", "GET", f"{EXT}/webhooks/{{webhook_id}}/deliveries",
                                s.ListDeliveries, "webhooks:deliveries", WEBHOOK, idempotent=True)

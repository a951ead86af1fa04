"""Registry webhooks: subscriptions, signed deliveries from the outbox, retries with backoff.

Names, limits, messages, the payload envelope and the signature follow MLflow
3.17.2 (``mlflow/webhooks/``): each delivery is a JSON ``POST`` of
``{"entity", "action", "timestamp", "data"}`` with ``X-MLflow-Delivery-Id``,
``X-MLflow-Timestamp`` (Unix seconds) and, when the webhook has a secret,
``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}">``.
The delivery id stays the same across retries, so receivers can drop duplicates.

Unlike MLflow, events are not sent from the request: the registry store writes
them to the outbox in the change's own transaction, and :meth:`deliver_due`
sends what is due. Who calls it:

- a server runs the worker in ``server/workers/webhooks.py`` (every process;
  claims in the database make each delivery go out once);
- in process (embedded store, no server) a small daemon thread starts after a
  change that enqueued deliveries and stops when nothing is pending. Deliveries
  it could not finish before the program exits stay in the outbox for the next
  process, a server, or :meth:`~modelyard.Client.deliver_webhooks`.

Retries: a connection error, a timeout, 408, 429 or 5xx is retried after
``backoff_ms * 2**(attempt-1)`` (capped at ``max_backoff_ms``) up to
``max_attempts``; any other answer outside 2xx fails at once, and so does a
send refused because the host reached a non-public address
(see ``webhooks_addresses.py``; ``allow_private_hosts`` lifts that guard).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, cast

import httpx

from ..entities import PagedList
from ..entities.webhooks import WebhookTestResult
from ..errors import InvalidParameterValue
from ..store import TrackingStore
from ..store.webhooks import (
    DELIVERED,
    EXTENSION_EVENTS,
    FAILED,
    MLFLOW_EVENTS,
    PENDING,
    Claimed,
    Webhook,
    WebhookDelivery,
)
from .experiments import now_ms
from .search import decode_page_token, encode_page_token
from .webhooks_addresses import (
    PrivateAddressRefused,
    PublicOnlyTransport,
    check_public_host,
)

log = logging.getLogger("modelyard.webhooks")

__all__ = ["EVENTS", "Webhook", "WebhookDelivery", "WebhookTestResult", "WebhooksService", "sign"]

EVENTS = MLFLOW_EVENTS + EXTENSION_EVENTS
STATUSES = ("ACTIVE", "DISABLED")
MAX_RESULTS_DEFAULT, MAX_RESULTS_MAX = 100, 1000
MAX_BODY_KEPT = 1000
_BAD_HOST_CHARS = frozenset("%<>\"{}|\\^`\x00")
_NAME_RE = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)
_RETRIED = {408, 429}

_EXAMPLES: dict[str, dict[str, Any]] = {
    "registered_model.created": {"name": "example_model", "tags": {"example_key": "example_value"},
                                 "description": "An example registered model"},
    "model_version.created": {"name": "example_model", "version": "1", "source": "models:/123",
                              "run_id": "abcd1234abcd5678", "tags": {"example_key": "example_value"},
                              "description": "An example model version"},
    "model_version_tag.set": {"name": "example_model", "version": "1", "key": "example_key",
                              "value": "example_value"},
    "model_version_tag.deleted": {"name": "example_model", "version": "1", "key": "example_key"},
    "model_version_alias.created": {"name": "example_model", "alias": "example_alias", "version": "1"},
    "model_version_alias.deleted": {"name": "example_model", "alias": "example_alias"},
    "model_version.stage_changed": {"name": "example_model", "version": "1", "from_stage": "None",
                                    "to_stage": "Staging"},
    "monitor_alert.fired": {"id": "1", "monitor_name": "example_monitor", "workspace": "default", "rule": "f1 < 0.8",
                            "metric": "f1", "value": 0.71, "threshold": 0.8, "message": "f1 = 0.71 < 0.8",
                            "status": "open"},
}


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """MLflow's ``X-MLflow-Signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidParameterValue(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, be less than 63 "
            "characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-).")
    return name


def check_url(url: Any, allow_private_hosts: bool = False) -> str:
    """A URL a delivery can be sent to, or a 400 in MLflow's words (``Invalid webhook URL ...``)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameterValue(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    try:
        parsed = urllib.parse.urlparse(url)
        parsed.port  # noqa: B018  (a port that is no number, or out of range, raises here)
        httpx.URL(url)  # what the sender will parse: control characters, bad IPv6 or IDNA hosts
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: {exc!r}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidParameterValue(
            f"Invalid webhook URL scheme: {parsed.scheme!r}. Allowed schemes are: http, https.")
    if not parsed.hostname:
        raise InvalidParameterValue(f"Webhook URL must include a hostname: {url!r}")
    if any(c.isspace() or c in _BAD_HOST_CHARS for c in parsed.hostname):
        raise InvalidParameterValue(
            f"Invalid webhook URL {url!r}: the host {parsed.hostname!r} contains characters no host name has.")
    if not allow_private_hosts:
        check_public_host(parsed.hostname)
    return url


def check_events(events: Any) -> list[str]:
    if not events or not isinstance(events, list):
        raise InvalidParameterValue(f"Webhook events must be a non-empty list of WebhookEvent objects: {events}.")
    for event in events:
        if event not in EVENTS:
            raise InvalidParameterValue(f"Invalid webhook event {event!r}. Valid events are: {', '.join(EVENTS)}.")
    return list(dict.fromkeys(events))


def check_status(status: Any) -> str:
    if status not in STATUSES:
        raise InvalidParameterValue(f"Invalid webhook status {status!r}. Valid statuses are: ACTIVE, DISABLED.")
    return str(status)


class WebhooksService:
    """Webhook CRUD with MLflow's rules, the outbox's delivery loop and its history.

    ``clock`` (milliseconds), ``timeout`` (seconds), ``max_attempts``,
    ``backoff_ms``, ``max_backoff_ms``, ``lease_ms`` and ``allow_private_hosts``
    are plain attributes, so tests and workers can set them.
    """

    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts
        settings = getattr(service, "settings", None)
        self.clock: Callable[[], int] = now_ms
        self.timeout = float(getattr(settings, "webhook_timeout", 10.0))
        self.max_attempts = int(getattr(settings, "webhook_max_attempts", 10))
        self.backoff_ms = int(getattr(settings, "webhook_backoff_ms", 1000))
        self.max_backoff_ms = 10 * 60 * 1000
        self.lease_ms = int(self.timeout * 1000) + 30_000
        self.poll_interval = float(getattr(settings, "webhook_poll_interval", 1.0))
        self.allow_private_hosts = bool(getattr(settings, "webhook_allow_private_hosts", False))
        self.embedded_delivery = True  # a server's worker turns this off and delivers itself
        self._worker_id = uuid.uuid4().hex
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        store.webhooks.add_listener(self._on_enqueued)

    @property
    def _s(self):  # type: ignore[no-untyped-def]
        return self.store.webhooks

    # ---- subscriptions --------------------------------------------------------

    def create_webhook(self, name: str, url: str, events: list[str], description: str | None = None,
                       secret: str | None = None, status: str | None = None) -> Webhook:
        check_name(name)
        check_url(url, self.allow_private_hosts)
        return cast("Webhook", self._s.create(name, url, check_events(events), description or None, secret or None,
                              check_status(status or "ACTIVE"), now_ms()))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._s.get(webhook_id)  # type: ignore[no-any-return]

    def list_webhooks(self, max_results: int | None = None, page_token: str | None = None,
                      mlflow_only: bool = False) -> PagedList:
        """Newest first. ``mlflow_only`` leaves out webhooks with none of MLflow's events (MlflowClient
        cannot read them)."""
        limit = max_results or MAX_RESULTS_DEFAULT
        if not 1 <= limit <= MAX_RESULTS_MAX:
            raise InvalidParameterValue("max_results must be between 1 and 1000.")
        offset = decode_page_token(page_token)
        found = self._s.list_page(limit + 1, offset, MLFLOW_EVENTS if mlflow_only else None)
        token = encode_page_token(offset + limit) if len(found) > limit else None
        return PagedList(found[:limit], token)

    def update_webhook(self, webhook_id: str, name: str | None = None, description: str | None = None,
                       url: str | None = None, events: list[str] | None = None, secret: str | None = None,
                       status: str | None = None) -> Webhook:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = check_name(name)
        if url is not None:
            values["url"] = check_url(url, self.allow_private_hosts)
        if description is not None:
            values["description"] = description
        if secret is not None:
            values["secret"] = secret or None
        if status is not None:
            values["status"] = check_status(status)
        return self._s.update(  # type: ignore[no-any-return]
            webhook_id, values, None if events is None else check_events(events), now_ms())

    def delete_webhook(self, webhook_id: str) -> None:
        self._s.delete(webhook_id, now_ms())

    def deliveries(self, webhook_id: str, max_results: int | None = None, page_token: str | None = None) -> PagedList:
        """The webhook's deliveries, newest first, with their latest outcome."""
        limit = max_results or MAX_RESULTS_DEFAULT
        if not 1 <= limit <= MAX_RESULTS_MAX:
            raise InvalidParameterValue("max_results must be between 1 and 1000.")
        offset = decode_page_token(page_token)
        found = self._s.deliveries(webhook_id, limit + 1, offset)
        return PagedList(found[:limit], encode_page_token(offset + limit) if len(found) > limit else None)

    def test_webhook(self, webhook_id: str, event: str | None = None) -> WebhookTestResult:
        """Send an example payload of ``event`` (default: the webhook's first event) now, and say how it went."""
        webhook, secret = self._s.target(webhook_id)
        name = event or next((e for e in webhook.events if e in _EXAMPLES), webhook.events[0])
        check_events([name])
        entity, _, action = name.partition(".")
        body = json.dumps({"entity": entity, "action": action, "timestamp": datetime.now(timezone.utc).isoformat(),
                           "data": _EXAMPLES.get(name, {})})
        status, text, error, _ = self._send(webhook.url, secret, str(uuid.uuid4()), body)
        if error is not None:
            return WebhookTestResult(False, error_message=f"Failed to test webhook: {error}")
        return WebhookTestResult(status is not None and status < 400, status, text)

    # ---- delivery -------------------------------------------------------------

    def deliver_due(self, now: int | None = None, limit: int = 50) -> int:
        """Claim and send up to ``limit`` due deliveries, one at a time; the number attempted.

        Each delivery is claimed just before it is sent, so its lease (receiver
        timeout + margin) covers that one send: a slow receiver can never let a
        later claimed row expire and be sent again by another process.
        """
        attempted = 0
        for _ in range(limit):
            if self._closed:
                break
            start = self.clock() if now is None else now
            claimed = self._s.claim_due(start, self.lease_ms, self._worker_id, 1)
            if not claimed:
                break
            self._attempt(claimed[0])
            attempted += 1
        return attempted

    def _attempt(self, item: Claimed) -> None:
        if not item.active:
            self._s.record(item.pk, self._worker_id, status=FAILED, now=self.clock(),
                           error="The webhook was deleted or disabled.")
            return
        status, text, error, retryable = self._send(item.url, item.secret, item.delivery_id, item.payload)
        now = self.clock()
        if status is not None and 200 <= status < 300:
            self._s.record(item.pk, self._worker_id, status=DELIVERED, now=now, response_status=status,
                           response_body=text)
            return
        retry = retryable and (status is None or status in _RETRIED or status >= 500)
        if retry and item.attempts < self.max_attempts:
            delay = min(self.backoff_ms * 2 ** (item.attempts - 1), self.max_backoff_ms)
            self._s.record(item.pk, self._worker_id, status=PENDING, now=now, next_attempt_at=now + delay,
                           response_status=status, response_body=text, error=error)
        else:
            self._s.record(item.pk, self._worker_id, status=FAILED, now=now, response_status=status,
                           response_body=text, error=error or f"HTTP {status}")

    def _send(self, url: str, secret: str | None, delivery_id: str,
              body: str) -> tuple[int | None, str | None, str | None, bool]:
        """POST one signed body: (status, response text, error, whether a failure may be retried).

        Unless private hosts are allowed, the connection is checked to reach a
        public address before anything is written (a DNS answer may have changed
        since the webhook was saved); a refusal is not retried.
        """
        timestamp = str(self.clock() // 1000)
        headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id,
                   "X-MLflow-Timestamp": timestamp}
        if secret:
            headers["X-MLflow-Signature"] = sign(secret, delivery_id, timestamp, body)
        transport = None if self.allow_private_hosts else PublicOnlyTransport()
        try:
            with httpx.Client(timeout=self.timeout, trust_env=False, follow_redirects=False,
                              transport=transport) as http:
                resp = http.post(url, content=body.encode(), headers=headers)
            return resp.status_code, resp.text[:MAX_BODY_KEPT], None, True
        except PrivateAddressRefused as exc:
            return None, None, str(exc)[:MAX_BODY_KEPT], False
        except httpx.HTTPError as exc:
            return None, None, f"{type(exc).__name__}: {exc}"[:MAX_BODY_KEPT], True

    def seconds_until_due(self) -> float | None:
        """Seconds until the next delivery falls due (0 if now); None when nothing is pending."""
        due = self._s.next_due_at()
        return None if due is None else max(0.0, (due - self.clock()) / 1000)

    # ---- the in-process delivery thread ----------------------------------------

    def _on_enqueued(self) -> None:
        if not self.embedded_delivery or self._closed:
            return
        with self._thread_lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="modelyard-webhooks", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        """Deliver until nothing is pending (bounded: at most 100,000 rounds)."""
        for _ in range(100_000):
            self._wake.clear()
            if self._closed or not self.embedded_delivery:
                break
            try:
                if self.deliver_due():
                    continue
                wait = self.seconds_until_due()
            except Exception:  # a store that went away: the outbox keeps the rest
                log.exception("in-process webhook delivery stopped")
                break
            if wait is None:
                with self._thread_lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            self._wake.wait(min(wait, self.poll_interval) or 0.01)
        with self._thread_lock:
            self._thread = None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the in-process delivery thread (pending deliveries stay in the outbox)."""
        self._closed = True
        self._s.remove_listener(self._on_enqueued)
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

"""Registry webhook deliveries (MLflow's format) read by ``POST /-/webhook``.

A delivery is JSON ``{"entity": "model_version_alias", "action": "created",
"timestamp": ..., "data": {"name", "alias", "version"}}`` (``event`` given as
``"model_version_alias.created"`` is read too). With a secret, the
``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">``
header must match, and the timestamp must be within five minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import InvalidParameterValue, PermissionDenied

MAX_AGE_S = 300


@dataclass(frozen=True)
class WebhookEvent:
    event: str
    name: str | None
    alias: str | None
    version: str | None


def parse_event(body: bytes, headers: Mapping[str, str], secret: str | None) -> WebhookEvent:
    if secret:
        verify(body, headers, secret)
    try:
        obj = msgspec.json.decode(body or b"{}")
    except msgspec.DecodeError as exc:
        raise InvalidParameterValue(f"Malformed webhook JSON: {exc}.") from None
    if not isinstance(obj, dict):
        raise InvalidParameterValue("A webhook delivery must be a JSON object.")
    event = obj.get("event") or ".".join(str(obj[k]) for k in ("entity", "action") if obj.get(k)) or "unknown"
    nested = obj.get("data")
    data: dict[str, Any] = nested if isinstance(nested, dict) else obj
    version = data.get("version")
    return WebhookEvent(str(event), _opt(data.get("name")), _opt(data.get("alias")), _opt(version))


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    signature = headers.get("x-mlflow-signature", "")
    delivery = headers.get("x-mlflow-delivery-id", "")
    stamp = headers.get("x-mlflow-timestamp", "")
    if not signature.startswith("v1,") or not stamp.isdigit():
        raise PermissionDenied("Missing or malformed webhook signature headers.")
    if abs(time.time() - int(stamp)) > MAX_AGE_S:
        raise PermissionDenied("Webhook timestamp is too old.")
    signed = f"{delivery}.{stamp}.".encode() + body
    want = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(want, signature[3:]):
        raise PermissionDenied("Webhook signature does not match.")


def sign(body: bytes, secret: str, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The headers a sender adds (used by tests and by our own webhook deliveries)."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return {"x-mlflow-signature": f"v1,{digest}", "x-mlflow-delivery-id": delivery_id,
            "x-mlflow-timestamp": str(timestamp)}


def _opt(value: object) -> str | None:
    return None if value is None else str(value)

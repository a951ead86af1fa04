"""Webhooks methods of the in-process transport (they call the service)."""

from __future__ import annotations

from typing import Any


class LocalWebhooks:
    service: Any

"""Webhooks methods of ``Client``."""

from __future__ import annotations

from typing import Any


class WebhooksMethods:
    _t: Any

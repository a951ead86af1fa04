"""Webhooks methods of the HTTP transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class HttpWebhooks:
    call: Callable[..., dict[str, Any]]

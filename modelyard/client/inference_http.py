"""Inference methods of the HTTP transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class HttpInference:
    call: Callable[..., dict[str, Any]]

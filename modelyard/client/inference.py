"""Inference methods of ``Client``."""

from __future__ import annotations

from typing import Any


class InferenceMethods:
    _t: Any

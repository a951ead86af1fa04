"""Pipelines methods of ``Client``."""

from __future__ import annotations

from typing import Any


class PipelinesMethods:
    _t: Any

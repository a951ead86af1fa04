"""SQL tables — Pipelines: runs of steps, cache entries, schedules and their ticks, triggers."""

from __future__ import annotations

from .schema import metadata

__all__ = ["metadata"]

"""SQL tables — The inference log: served predictions and their later ground truth."""

from __future__ import annotations

from .schema import metadata

__all__ = ["metadata"]

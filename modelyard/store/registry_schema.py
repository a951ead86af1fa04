"""SQL tables of the model registry (registered models, versions, tags, aliases, audit)."""

from __future__ import annotations

from .schema import metadata

__all__ = ["metadata"]

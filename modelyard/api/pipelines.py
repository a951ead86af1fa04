"""Operations on pipelines (being moved here from their route module)."""

from __future__ import annotations

from .operations import Table

t = Table("pipelines", "modelyard.service.handlers")

"""Operations on logged models (being moved here from their route module)."""

from __future__ import annotations

from .operations import Table

t = Table("logged_models", "modelyard.service.handlers")

"""SQL tables of MLflow 3 logged models (models, params, tags, metrics, run outputs)."""

from __future__ import annotations

from .schema import metadata

__all__ = ["metadata"]

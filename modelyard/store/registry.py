"""The model registry in SQL."""

from __future__ import annotations

from .database import Database


class RegistryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

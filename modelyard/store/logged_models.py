"""MLflow 3 logged models in SQL."""

from __future__ import annotations

from .database import Database


class LoggedModelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

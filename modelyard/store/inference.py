"""The inference log: served predictions and their later ground truth — in SQL."""

from __future__ import annotations

from .database import Database


class InferenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

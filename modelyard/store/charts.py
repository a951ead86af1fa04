"""The chart boards in SQL: read, upsert and remove an experiment's saved layout."""

from __future__ import annotations

from typing import NamedTuple

from .database import Database


class BoardRow(NamedTuple):
    experiment_id: int
    layout: str
    updated_by: str | None
    updated_ms: int


class ChartBoardStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert = db.upsert("chart_boards", BoardRow._fields, ("experiment_id",))

    def get(self, experiment_id: int) -> BoardRow | None:
        sql = self.db.sql("SELECT experiment_id, layout, updated_by, updated_ms FROM chart_boards WHERE experiment_id = ?")
        with self.db.fast_read() as tx:
            found = tx.one(sql, (experiment_id,))
        return BoardRow(*found) if found else None

    def put(self, row: BoardRow) -> None:
        with self.db.fast_write() as tx:
            tx.execute(self._upsert, tuple(row))

    def delete(self, experiment_id: int) -> bool:
        with self.db.fast_write() as tx:
            cur = tx.execute(self.db.sql("DELETE FROM chart_boards WHERE experiment_id = ?"), (experiment_id,))
        return bool(cur.rowcount)

"""The inference log in SQL: bulk inserts of served requests and feedback, and reads for monitoring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .database import Database

REQUEST_COLS = ("request_id", "model_name", "model_version", "timestamp_ms", "latency_ms", "inputs", "outputs",
                "probabilities")


class RequestRow(NamedTuple):
    """One served request as stored: inputs and outputs already JSON text."""

    request_id: str
    model_name: str
    model_version: str
    timestamp_ms: int
    latency_ms: float
    inputs: str
    outputs: str
    probabilities: str | None = None  # JSON text: {"classes", "data"} when the model has predict_proba


class FeedbackRow(NamedTuple):
    request_id: str
    label: str
    timestamp_ms: int


class JoinedRow(NamedTuple):
    """A request row with its feedback (``label`` None until it arrives)."""

    request: RequestRow
    label: str | None
    label_timestamp_ms: int | None


class InferenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # A request id seen twice (a retried bulk post) is stored once.
        self._insert_request = db.insert_ignore("inference_requests", REQUEST_COLS)
        # The latest label for a request wins.
        self._upsert_feedback = db.upsert("inference_feedback", ("request_id", "label", "timestamp_ms"), ("request_id",))

    def log_requests(self, rows: Sequence[RequestRow]) -> None:
        """Insert rows in one transaction (one ``executemany``)."""
        if rows:
            with self.db.fast_write() as tx:
                tx.executemany(self._insert_request, rows)

    def log_feedback(self, rows: Sequence[FeedbackRow]) -> None:
        if rows:
            with self.db.fast_write() as tx:
                tx.executemany(self._upsert_feedback, rows)

    def search(
        self,
        model_name: str | None,
        model_version: str | None,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
        offset: int,
    ) -> list[JoinedRow]:
        """Requests (newest first) joined with their feedback."""
        where, params = [], []
        for clause, value in (
            ("r.model_name = ?", model_name),
            ("r.model_version = ?", model_version),
            ("r.timestamp_ms >= ?", start_ms),
            ("r.timestamp_ms < ?", end_ms),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = (
            "SELECT r.request_id, r.model_name, r.model_version, r.timestamp_ms, r.latency_ms, r.inputs, r.outputs,"
            " r.probabilities, f.label, f.timestamp_ms FROM inference_requests r"
            " LEFT JOIN inference_feedback f ON f.request_id = r.request_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.timestamp_ms DESC, r.id DESC LIMIT ? OFFSET ?"
        )
        with self.db.fast_read() as tx:
            found = tx.all(self.db.sql(sql), (*params, limit, offset))
        return [JoinedRow(RequestRow(*r[:8]), r[8], r[9]) for r in found]

    def feedback(self, request_ids: Sequence[str]) -> list[FeedbackRow]:
        if not request_ids:
            return []
        out: list[FeedbackRow] = []
        ids = list(request_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = f"SELECT request_id, label, timestamp_ms FROM inference_feedback WHERE request_id IN ({', '.join('?' * len(chunk))})"
            with self.db.fast_read() as tx:
                out += [FeedbackRow(*r) for r in tx.all(self.db.sql(sql), chunk)]
        return out

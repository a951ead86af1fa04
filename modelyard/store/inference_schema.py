"""SQL tables of the inference log: served predictions and their later ground truth.

``inference_requests`` holds one row per answered prediction request (inputs and
outputs as JSON text, the model version that answered, the latency);
``inference_feedback`` holds labels keyed by request id. Feedback has its own
table because it may arrive before the (asynchronously written) request row.
Migration ``0005`` creates these tables; ``0021`` adds ``probabilities`` (the
class probabilities of a model with ``predict_proba``, JSON text).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from .schema import MODEL_KEY_LENGTH, metadata

__all__ = ["inference_feedback", "inference_requests", "metadata"]

inference_requests = Table(
    "inference_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("outputs", Text, nullable=False),
    Column("probabilities", Text),  # {"classes": [...], "data": [[p, ...] per row]} when the model has predict_proba
    Index("ix_inference_requests_model_time", "model_name", "model_version", "timestamp_ms"),
)

inference_feedback = Table(
    "inference_feedback",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("label", Text, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
)

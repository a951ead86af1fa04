"""SQL table of the chart boards: one saved layout per experiment (migration ``0018``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from .schema import metadata

__all__ = ["chart_boards"]

chart_boards = Table(
    "chart_boards",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True),
    Column("layout", Text, nullable=False),  # JSON, as the service validated it
    Column("updated_by", String(256)),
    Column("updated_ms", BigInteger, nullable=False),
)

"""SQL tables of LLM evaluation and cost: evaluation datasets and their records, token usage per span, prices.

An evaluation dataset (MLflow 3's ``EvaluationDataset``, id ``d-`` and 32 hex digits) holds
records of inputs, expectations and outputs, one per distinct inputs (``input_hash``: SHA-256 of
the inputs as sorted JSON, so merging the same inputs again updates the record); it belongs to
any number of experiments. ``span_usage`` keeps the token counts of each span that reported any
(input, output, cached input) and the model it named, written with the span; a cost is never
stored, it is computed from ``llm_prices`` when read, so editing a price re-prices history.
Migration ``0016`` creates these tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from .schema import metadata

__all__ = ["eval_dataset_experiments", "eval_dataset_records", "eval_dataset_tags", "eval_datasets", "llm_prices",
           "span_usage"]

eval_datasets = Table(
    "eval_datasets",
    metadata,
    Column("dataset_id", String(36), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("schema", Text),
    Column("profile", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255)),
    Column("last_updated_by", String(255)),
    Index("ix_eval_datasets_name", "name"),
)


def _dataset_fk() -> ForeignKey:
    return ForeignKey("eval_datasets.dataset_id", ondelete="CASCADE")


eval_dataset_tags = Table(
    "eval_dataset_tags",
    metadata,
    Column("dataset_id", String(36), _dataset_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

eval_dataset_experiments = Table(
    "eval_dataset_experiments",
    metadata,
    Column("dataset_id", String(36), _dataset_fk(), primary_key=True),
    Column("experiment_id", Integer, primary_key=True),
    Index("ix_eval_dataset_experiments_experiment", "experiment_id"),
)

eval_dataset_records = Table(
    "eval_dataset_records",
    metadata,
    Column("dataset_record_id", String(36), primary_key=True),
    Column("dataset_id", String(36), _dataset_fk(), nullable=False),
    Column("input_hash", String(64), nullable=False),
    # JSON documents, as the client sent them.
    Column("inputs", Text, nullable=False),
    Column("outputs", Text),
    Column("expectations", Text),
    Column("tags", Text),
    Column("source", Text),
    Column("source_id", String(250)),
    Column("source_type", String(20)),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255)),
    Column("last_updated_by", String(255)),
    UniqueConstraint("dataset_id", "input_hash", name="uq_eval_dataset_records_inputs"),
    Index("ix_eval_dataset_records_page", "dataset_id", "created_time", "dataset_record_id"),
)

span_usage = Table(
    "span_usage",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("model", String(250)),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    # Of the input tokens, how many the provider served from its prompt cache (billed at the cached price).
    Column("cached_input_tokens", BigInteger, nullable=False, server_default="0"),
    Index("ix_span_usage_model", "model"),
    sqlite_with_rowid=False,
)

# Prices per million tokens of one model (matched exactly, or by the longest prefix ending in '*').
llm_prices = Table(
    "llm_prices",
    metadata,
    Column("model", String(250), primary_key=True),
    Column("input_per_million", Float(precision=53), nullable=False),
    Column("output_per_million", Float(precision=53), nullable=False),
    Column("cached_input_per_million", Float(precision=53)),
    Column("currency", String(8), nullable=False, server_default="USD"),
    Column("updated_time", BigInteger, nullable=False),
)

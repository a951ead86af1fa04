"""SQL tables of LLM traces: trace info, tags, metadata, spans, span attributes, assessments, links.

A trace has an integer surrogate key (``traces.id``) used by every child table;
its public id is ``traces.trace_id`` (``tr-`` and 32 hex digits, as MLflow derives
it from the OpenTelemetry trace id). Spans are rows, one per span, with the columns
searches filter on (name, type, status, times) and the span's attributes and events
as JSON, stored the way it is served (a read sends it on without decoding).
``span_attributes`` repeats each attribute whose text is at most
:data:`INDEXED_VALUE_CHARS` characters as a key/value row, so
``span.attributes.<key> = '...'`` is an index lookup; longer values, and a span's
inputs and outputs (``mlflow.spanInputs``, ``mlflow.spanOutputs``: searched with
``trace.text LIKE``), stay in the span's JSON only. Migration ``0012`` creates these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from .schema import metadata

__all__ = [
    "INDEXED_VALUE_CHARS",
    "TRIGRAM_INDEXES",
    "include_in_comparison",
    "span_attributes",
    "spans",
    "trace_assessments",
    "trace_metadata",
    "trace_prompt_links",
    "trace_run_links",
    "trace_tags",
    "traces",
]

INDEXED_VALUE_CHARS = 500  # longer attribute values are kept in spans.attributes only

# PostgreSQL only: (index, table, column) of the trigram GIN indexes (pg_trgm's ``gin_trgm_ops``) that
# migration 0023 makes for LIKE/ILIKE searches when the extension is there or can be created. Not in the
# metadata: they depend on an extension the database may lack, and SQLite has no such index.
TRIGRAM_INDEXES = (
    ("ix_traces_name_trgm", "traces", "name"),
    ("ix_trace_tags_value_trgm", "trace_tags", "value"),
    ("ix_trace_metadata_value_trgm", "trace_metadata", "value"),
    ("ix_spans_name_trgm", "spans", "name"),
    ("ix_spans_type_trgm", "spans", "type"),
    ("ix_spans_content_trgm", "spans", "content"),
    ("ix_span_attributes_value_trgm", "span_attributes", "value"),
    ("ix_trace_assessments_value_trgm", "trace_assessments", "value_text"),
)
_TRIGRAM_NAMES = frozenset(name for name, _table, _column in TRIGRAM_INDEXES)


def include_in_comparison(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's ``include_object`` for comparing a database with the metadata: leaves out the trigram indexes."""
    return not (type_ == "index" and name in _TRIGRAM_NAMES)

traces = Table(
    "traces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("client_request_id", String(250)),
    Column("request_time_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger),
    # OK, ERROR or IN_PROGRESS.
    Column("state", String(20), nullable=False),
    Column("request_preview", Text),
    Column("response_preview", Text),
    # The trace's name (tag mlflow.traceName), its source run (metadata mlflow.sourceRun), session and
    # user (metadata mlflow.trace.session / mlflow.trace.user): copied into columns for search.
    Column("name", String(250)),
    Column("run_id", String(32)),
    Column("session_id", String(250)),
    Column("user_id", String(250)),
    # True once the client sent the trace info (start_trace); spans alone make an IN_PROGRESS trace.
    Column("finalized", Boolean, nullable=False, server_default="0"),
    Index("ix_traces_experiment_time", "experiment_id", "request_time_ms", "id"),
    # Only the traces that have one (migration 0026): most have neither, and every query compares them with a value.
    Index("ix_traces_run", "run_id", sqlite_where=text("run_id IS NOT NULL"),
          postgresql_where=text("run_id IS NOT NULL")),
    Index("ix_traces_session", "session_id", sqlite_where=text("session_id IS NOT NULL"),
          postgresql_where=text("session_id IS NOT NULL")),
    # A page of one state or one name, newest first, is a range of these (migration 0022).
    Index("ix_traces_experiment_state_time", "experiment_id", "state", "request_time_ms", "id"),
    Index("ix_traces_experiment_name_time", "experiment_id", "name", "request_time_ms", "id"),
)


def _trace_fk() -> ForeignKey:
    return ForeignKey("traces.id", ondelete="CASCADE")


trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)
# The traces with one value (``tags.k = 'v'``): a hash index on PostgreSQL, whose B-tree entries are bounded.
Index("ix_trace_tags_value", trace_tags.c.value, postgresql_using="hash")

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)
# The traces with one value (``tags.k = 'v'``): a hash index on PostgreSQL, whose B-tree entries are bounded.
Index("ix_trace_metadata_value", trace_metadata.c.value, postgresql_using="hash")

spans = Table(
    "spans",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("parent_span_id", String(16)),
    Column("name", String(500), nullable=False),
    Column("type", String(100)),
    # OK, ERROR or UNSET.
    Column("status", String(10), nullable=False),
    Column("start_time_ns", BigInteger, nullable=False),
    Column("end_time_ns", BigInteger),
    # The whole span as it is served: OpenTelemetry protobuf JSON (see entities.traces.Span.to_otel_dict).
    Column("content", Text, nullable=False),
    Index("ix_spans_trace_start", "trace_pk", "start_time_ns", "span_id"),
    Index("ix_spans_name", "name"),
    Index("ix_spans_type", "type"),
    sqlite_with_rowid=False,
)

span_attributes = Table(
    "span_attributes",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("key", String(250), primary_key=True),
    # The value as text: a string as is, anything else as JSON.
    Column("value", String(INDEXED_VALUE_CHARS), nullable=False),
    Index("ix_span_attributes_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

trace_assessments = Table(
    "trace_assessments",
    metadata,
    Column("assessment_id", String(64), primary_key=True),
    Column("trace_pk", Integer, _trace_fk(), nullable=False),
    Column("name", String(250), nullable=False),
    # feedback or expectation.
    Column("kind", String(20), nullable=False),
    # The value as text for search (a string as is, anything else as JSON), cut to 500 characters.
    Column("value_text", String(500)),
    # The value when it is a number, for <, <=, > and >= (``feedback.score >= 0.8``).
    Column("value_number", Float(precision=53)),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("last_update_time_ms", BigInteger, nullable=False),
    Column("valid", Boolean, nullable=False, server_default="1"),
    # The whole assessment in MLflow's JSON shape (AssessmentV3), as last written.
    Column("body", Text, nullable=False),
    Index("ix_trace_assessments_trace", "trace_pk"),
    Index("ix_trace_assessments_name_value", "name", "value_text"),
)

# Traces linked to runs (``traces/link-to-run``), beside the run a trace names in its metadata.
trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("run_id", String(32), primary_key=True),
    Index("ix_trace_run_links_run", "run_id"),
    sqlite_with_rowid=False,
)

# Prompt versions a trace used (``traces/link-prompts``).
trace_prompt_links = Table(
    "trace_prompt_links",
    metadata,
    Column("trace_pk", Integer, _trace_fk(), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("version", String(32), primary_key=True),
    sqlite_with_rowid=False,
)

"""Trace search at scale on PostgreSQL: trigram (pg_trgm) GIN indexes for ``LIKE`` and ``ILIKE``.

``trace.name``, ``tags.k``, ``metadata.k``, ``span.name``, ``span.type``, ``span.attributes.k``,
``feedback.k``/``expectation.k``, and ``trace.text``/``span.content`` (every span's whole JSON) with
``LIKE``/``ILIKE``: a pattern with three or more characters in a row between its wildcards is answered
from the index, wherever it falls in the value (``'%refund%'`` as well as ``'c-17%'``).

pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+): a role with ``CREATE`` on the
database may create it. A role that cannot, on a database that lacks it, gets a warning in the log and no
trigram indexes: the migration succeeds, and those searches scan as before, until a superuser runs
``CREATE EXTENSION pg_trgm`` and the ``CREATE INDEX`` statements docs/tracing.md lists.

Building them blocks writes to those tables while it runs (about 50 s per 100,000 traces on a busy
2-core machine): on a large store, build them first with ``CREATE INDEX CONCURRENTLY`` (the statements are
in docs/tracing.md) and this migration keeps them.

SQLite: nothing. ``LIKE`` with a literal prefix reads the B-tree indexes' prefix ranges there, and
``trace.text`` stays a scan (docs/tracing.md states the bound).

Revision ID: 0023
Revises: 0022
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

log = logging.getLogger("modelyard.store.migrations")

# (index, table, column): the same list as modelyard.store.traces_schema.TRIGRAM_INDEXES, frozen here.
_INDEXES = (
    ("ix_traces_name_trgm", "traces", "name"),
    ("ix_trace_tags_value_trgm", "trace_tags", "value"),
    ("ix_trace_metadata_value_trgm", "trace_metadata", "value"),
    ("ix_spans_name_trgm", "spans", "name"),
    ("ix_spans_type_trgm", "spans", "type"),
    ("ix_spans_content_trgm", "spans", "content"),
    ("ix_span_attributes_value_trgm", "span_attributes", "value"),
    ("ix_trace_assessments_value_trgm", "trace_assessments", "value_text"),
)


def _pg_trgm(bind: sa.Connection) -> bool:
    """Whether pg_trgm is there, creating it if it is not (in a savepoint: a refusal leaves the migration whole)."""
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is not None:
        return True
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        log.warning(
            "PostgreSQL extension pg_trgm could not be created (%s): trace searches with LIKE/ILIKE (trace.text, "
            "span.name, tags, attributes) will scan instead of using trigram indexes. Fix: run "
            "'CREATE EXTENSION pg_trgm;' in this database as a superuser, then create the indexes as "
            "docs/tracing.md shows.", reason)
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _pg_trgm(bind):
        return
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"},
                        if_not_exists=True)  # built beforehand with CREATE INDEX CONCURRENTLY: kept


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name, _table, _column in reversed(_INDEXES):
        bind.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

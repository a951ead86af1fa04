"""Traces in SQL: span ingest, trace info, tags, metadata, assessments, links, search and delete.

Methods take what the service already validated. Spans arrive in batches
(OTLP); a batch is one transaction: the traces it names are created
``IN_PROGRESS`` if new, its spans and their short attributes upserted (a span
sent twice is stored once), and a trace whose info the client has not sent yet
takes its state, timing and previews from its root span. ``start_trace``
then writes the info the client computed, which wins.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement

from ..entities.query import Comparison
from ..entities.traces import Span, StoredSpan, TraceInfo
from ..entities.usage import Usage
from . import traces_schema as t
from .database import Database, Tx
from .llm_schema import span_usage

SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
PREVIEW_CHARS = 1000
_CHUNK = 500
# A search filter on a value held by fewer rows than this is answered from those rows' traces
# (TraceStore._narrowest); a commoner value by scanning the experiment's traces newest first.
PROBE_LIMIT = 5000
# Attributes every span carries or that have a column of their own: not repeated as search rows.
_NOT_INDEXED = frozenset({"mlflow.traceRequestId", "mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs"})
# Metadata that start_trace copies into a column of ``traces`` (at most 250 characters: longer values are
# searched in trace_metadata).
_METADATA_COLUMNS = {"mlflow.trace.session": "session_id", "mlflow.trace.user": "user_id"}

# The columns of ``traces`` the trace info sets, in the order of TraceStore.start_trace's values; those it
# leaves as they were when the info has no value for them (``_KEPT_IF_NONE``, by index).
_INFO_COLUMNS = ("experiment_id", "client_request_id", "request_time_ms", "execution_time_ms", "state",
                 "request_preview", "response_preview", "name", "run_id", "session_id", "user_id", "finalized")
_KEPT_IF_NONE = frozenset(range(5, 11))
# Fewer rows than this are upserted a statement each: a statement of many rows costs SQLite a statement journal
# (it may fail halfway), every page it changes copied first (with temp_store=MEMORY into 1 KiB chunks), which
# fewer rows do not pay back (counted: 11 metadata rows cost 5% more in one statement, 22 rows 4% less).
_FEW_ROWS = 16
_MOST_ROWS = 1024
_SPAN_KEY = attrgetter("trace_id", "span_id")
_ATTRIBUTE_KEY = itemgetter(0, 1, 2)  # (trace_pk, span_id, key) of a span_attributes row


class TraceRow(NamedTuple):
    pk: int
    trace_id: str
    experiment_id: int


def attribute_text(value: Any) -> str:
    """An attribute value as search text: a string as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    if type(value) is int:  # JSON's spelling of an integer (not of a bool)
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _root_values(root: Span) -> tuple[Any, ...]:
    """(request_time_ms, execution_time_ms, state, request_preview, response_preview, name) of a trace as its
    root span tells them (until its info comes)."""
    duration = None if root.end_time_ns is None else (root.end_time_ns - root.start_time_ns) // 1_000_000
    state = "ERROR" if root.status == "ERROR" else ("OK" if root.end_time_ns is not None else "IN_PROGRESS")
    return (root.start_time_ns // 1_000_000, duration, state, _preview(root.attributes.get("mlflow.spanInputs")),
            _preview(root.attributes.get("mlflow.spanOutputs")), root.name[:250])


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = attribute_text(value).replace("\x00", "")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 3] + "..."


class TraceStore:
    """Traces, spans, assessments and links of one database."""

    _trigram: frozenset[str] | None = None  # the trigram indexes (migration 0023) there are (see _trigram_indexes)

    def __init__(self, db: Database) -> None:
        self.db = db
        self._new_trace_sql: dict[int, str] = {}  # by the number of traces inserted at once
        self._trace_pk_sql = f"SELECT id FROM traces WHERE trace_id = {db.ph}"
        # Spans, their attributes, tags and metadata are written many rows a statement (_upsert_rows): one
        # statement's run, its cursors on the table and each index, and its end cost SQLite more than a row.
        self._upserts: dict[str, tuple[str, str, str, str, int, int]] = {}
        tag_columns = ("trace_pk", "key", "value")
        for name, table, columns, key in (
                ("span", "spans", ("trace_pk", "span_id", "parent_span_id", "name", "type", "status", "start_time_ns",
                                   "end_time_ns", "content"), ("trace_pk", "span_id")),
                ("attribute", "span_attributes", ("trace_pk", "span_id", "key", "value"), ("trace_pk", "span_id", "key")),
                ("tag", "trace_tags", tag_columns, ("trace_pk", "key")),
                ("metadata", "trace_metadata", tag_columns, ("trace_pk", "key")),
                ("new tag", "trace_tags", tag_columns, ())):  # a tag the trace has no value of yet
            one = f"({db.placeholders(len(columns))})"
            single = db.upsert(table, columns, key) if key else db.insert_ignore(table, columns)
            head, _, tail = single.partition(f" VALUES {one}")
            self._upserts[name] = (single, head, one, tail, len(columns), len(key))
        self._upsert_sql: dict[tuple[str, int], str] = {}  # by the upsert and the number of rows
        self._values_limit: int | None = None  # the most values a statement takes (_most_rows)
        self._upsert_tag = self._upserts["tag"][0]
        self._link_run = db.insert_ignore("trace_run_links", ("trace_pk", "run_id"))
        self._upsert_usage = db.upsert(
            "span_usage", ("trace_pk", "span_id", "model", "input_tokens", "output_tokens", "cached_input_tokens"),
            ("trace_pk", "span_id"))
        self._link_prompt = db.insert_ignore("trace_prompt_links", ("trace_pk", "name", "version"))
        ph = db.ph
        self._experiment_sql = f"SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = {ph}"
        self._experiment_and_trace_sql = (
            f"SELECT artifact_location, lifecycle_stage, (SELECT id FROM traces WHERE trace_id = {ph})"
            f" FROM experiments WHERE experiment_id = {ph}")
        self._new_info = (
            f"INSERT INTO traces (trace_id, {', '.join(_INFO_COLUMNS)}) VALUES ({db.placeholders(13)})"
            " ON CONFLICT (trace_id) DO NOTHING RETURNING id")
        # The trace's row as start_trace compares it (locked on PostgreSQL until the commit, as an upsert would).
        self._info_row_sql = (f"SELECT id, {', '.join(_INFO_COLUMNS)} FROM traces WHERE trace_id = {ph}"
                              + ("" if db.is_sqlite else " FOR UPDATE"))
        self._info_updates: dict[tuple[int, ...], str] = {}
        self._hanging_sql = (
            f"SELECT 0, key, value, CAST(NULL AS BIGINT) FROM trace_tags WHERE trace_pk = {ph}"
            f" UNION ALL SELECT 1, key, value, CAST(NULL AS BIGINT) FROM trace_metadata WHERE trace_pk = {ph}"
            f" UNION ALL SELECT 2, body, assessment_id, create_time_ms FROM trace_assessments WHERE trace_pk = {ph}")
        self._root_update = (
            f"UPDATE traces SET request_time_ms = {ph}, execution_time_ms = {ph}, state = {ph},"
            f" request_preview = COALESCE(request_preview, {ph}), response_preview = COALESCE(response_preview, {ph}),"
            f" name = COALESCE(name, {ph}) WHERE id = {ph} AND finalized = {ph}"
        )

    # ---- writes ---------------------------------------------------------------

    def experiment(self, tx: Tx, experiment_id: int, trace_id: str | None = None) -> tuple[str, str, int | None] | None:
        """(artifact_location, lifecycle_stage) of an experiment, read in the caller's transaction, and the
        primary key of the trace ``trace_id`` when given (None if there is none): in the same statement, as a
        batch of one trace's spans (the official client posts one span at a time) looks it up for :meth:`ingest`
        (its ``found``)."""
        if trace_id is None:
            found = tx.one(self._experiment_sql, (experiment_id,))
            return None if found is None else (found[0], found[1], None)
        found = tx.one(self._experiment_and_trace_sql, (trace_id, experiment_id))
        return None if found is None else (found[0], found[1], found[2])

    def run_exists(self, tx: Tx, run_id: str) -> bool:
        return tx.one(f"SELECT 1 FROM runs WHERE run_uuid = {self.db.ph}", (run_id,)) is not None

    def ingest(self, tx: Tx, experiment_id: int, spans: Sequence[Span],
               fixed_tags: dict[str, dict[str, str]], run_id: str | None = None,
               usage: Sequence[tuple[str, str, Usage]] = (), found: dict[str, int] | None = None) -> int:
        """Store ``spans`` (any number of traces) on the hot path's bare connection; return how many.

        ``fixed_tags`` maps a trace id to tags set on the trace if it has none of that key yet;
        ``usage`` is the (trace id, span id, token usage) of the spans that reported tokens; ``found``, when
        given, the trace id -> primary key of those of the spans' traces that exist (looked up already).
        """
        by_trace: dict[str, list[Span]] = defaultdict(list)
        roots: dict[str, Span] = {}  # each trace's root span, if the batch has it
        # Rows are written in key order, so concurrent batches lock them in one order (no deadlock on PostgreSQL).
        for span in sorted(spans, key=_SPAN_KEY):
            by_trace[span.trace_id].append(span)
            if span.parent_span_id is None and span.trace_id not in roots:
                roots[span.trace_id] = span
        rows = dict(found) if found is not None else self._trace_pks(tx, list(by_trace))
        created: dict[str, int] = {}
        if len(rows) < len(by_trace):
            created = self._new_traces(tx, experiment_id, [(trace_id, group) for trace_id, group in by_trace.items()
                                                           if trace_id not in rows], roots)
            rows.update(created)
            if len(rows) < len(by_trace):  # made by another transaction meanwhile (PostgreSQL)
                rows.update(self._trace_pks(tx, [trace_id for trace_id in by_trace if trace_id not in rows]))
        span_rows, attribute_rows, tag_rows = [], [], []
        if created:  # a trace that exists has them already (from its first spans or its info)
            for trace_id in by_trace:
                if trace_id in created:
                    tag_rows += [(created[trace_id], k, v) for k, v in fixed_tags.get(trace_id, {}).items()]
        limit = t.INDEXED_VALUE_CHARS
        twice = False  # a span given twice (sorted: next to each other)
        for trace_id, group in by_trace.items():
            pk = rows[trace_id]
            previous = None
            for s in group:
                twice = twice or s.span_id == previous
                previous = s.span_id
                span_rows.append((
                    pk, s.span_id, s.parent_span_id, s.name[:500], s.type, s.status,
                    s.start_time_ns, s.end_time_ns, s.otel_json(),
                ))
                for key, value in s.attributes.items():
                    if key in _NOT_INDEXED or len(key) > 250:
                        continue
                    text = value if type(value) is str else attribute_text(value)
                    if len(text) <= limit and "\x00" not in text and "\x00" not in key:
                        attribute_rows.append((pk, s.span_id, key, text))
        self._upsert_rows(tx, "span", span_rows, twice)
        attribute_rows.sort(key=_ATTRIBUTE_KEY)  # stable: a span given twice, its last copy's value last
        self._upsert_rows(tx, "attribute", attribute_rows, twice)
        self._upsert_rows(tx, "new tag", tag_rows)
        if usage:
            tx.executemany(self._upsert_usage, [
                (rows[trace_id], span_id, u.model, u.input_tokens, u.output_tokens, u.cached_input_tokens)
                for trace_id, span_id, u in sorted(usage, key=lambda x: (x[0], x[1]))])
        if run_id is not None:
            tx.executemany(self._link_run, [(pk, run_id) for pk in rows.values()])
        for trace_id, root in roots.items():
            if trace_id not in created:
                tx.execute(self._root_update, (*_root_values(root), rows[trace_id], False))
        return len(spans)

    def _upsert_rows(self, tx: Tx, name: str, rows: list[tuple[Any, ...]], twice: bool = False) -> None:
        """Upsert ``rows`` in turn with the upsert ``name`` of ``_upserts``, many a statement.

        With ``twice`` (a key may be given twice) a key keeps its last row, as one upsert a row would leave it
        (and PostgreSQL refuses a statement that updates a row twice)."""
        if not rows:
            return
        single, head, one, tail, width, keys = self._upserts[name]  # the key: the first ``keys`` columns
        if len(rows) < _FEW_ROWS:  # the official client's one span a request
            tx.executemany(single, rows)
            return
        if twice:
            rows = list({row[:keys]: row for row in rows}.values())
        # Statements of a multiple of 128 rows, or a power of two below (16 to 1,024 rows, as the database's limit
        # of values allows): a few sizes, so the driver's statement cache keeps them all; fewer than 16 rows
        # left, a statement a row.
        most = self._most_rows(tx, width)
        start, left = 0, len(rows)
        while left >= _FEW_ROWS:
            size = min(most, left // 128 * 128 if left >= 128 else 1 << (left.bit_length() - 1))
            sql = self._upsert_sql.get((name, size))
            if sql is None:
                sql = self._upsert_sql[(name, size)] = f"{head} VALUES {', '.join([one] * size)}{tail}"
            tx.execute(sql, list(chain.from_iterable(rows[start:start + size])))
            start, left = start + size, left - size
        if left:
            tx.executemany(single, rows[start:])

    def _most_rows(self, tx: Tx, width: int) -> int:
        """The most rows of ``width`` values a statement writes: a power of two, at most 1,024, whose values
        the database takes in one statement (SQLite's limit, 32,766 since 3.32, may be set lower; PostgreSQL's
        is 65,535)."""
        if self._values_limit is None:
            self._values_limit = (tx.cur.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                                  if self.db.is_sqlite else 65_535)
        return min(_MOST_ROWS, 1 << ((self._values_limit // width).bit_length() - 1))

    def _new_traces(self, tx: Tx, experiment_id: int, new: Sequence[tuple[str, list[Span]]],
                    roots: dict[str, Span]) -> dict[str, int]:
        """Insert the traces ``new`` (trace id, its spans), skipping any that exist meanwhile; return the trace id
        -> primary key of those inserted. A trace made with its root span takes its state, times, previews and
        name at once (no update of the row and its indexes after); else it is in progress from its first span."""
        rows = []
        for trace_id, group in new:
            root = roots.get(trace_id)
            rows.append((trace_id, experiment_id, *_root_values(root), False) if root is not None else (
                trace_id, experiment_id, min(s.start_time_ns for s in group) // 1_000_000, None, "IN_PROGRESS",
                None, None, None, False))
        created: dict[str, int] = {}
        for chunk in _chunks(rows):
            sql = self._new_trace_sql.get(len(chunk))
            if sql is None:
                one = f"({self.db.placeholders(9)})"
                sql = self._new_trace_sql[len(chunk)] = (
                    "INSERT INTO traces (trace_id, experiment_id, request_time_ms, execution_time_ms, state,"
                    " request_preview, response_preview, name, finalized)"
                    f" VALUES {', '.join([one] * len(chunk))} ON CONFLICT (trace_id) DO NOTHING RETURNING trace_id, id")
            created.update(tx.all(sql, [v for row in chunk for v in row]))
        return created

    def _trace_pks(self, tx: Tx, trace_ids: Sequence[str]) -> dict[str, int]:
        """Trace id -> primary key of those of ``trace_ids`` that exist."""
        rows: dict[str, int] = {}
        if len(trace_ids) == 1:
            found = tx.one(self._trace_pk_sql, trace_ids)
            if found is not None:
                rows[trace_ids[0]] = found[0]
            return rows
        for chunk in _chunks(trace_ids):
            sql = f"SELECT id, trace_id FROM traces WHERE trace_id IN ({self.db.placeholders(len(chunk))})"
            rows.update((trace_id, pk) for pk, trace_id in tx.all(sql, chunk))
        return rows

    def start_trace(self, tx: Tx, info: TraceInfo, experiment_id: int, fixed_tags: dict[str, str],
                    read_back: bool = True, prompts: Sequence[tuple[str, str]] = ()) -> TraceInfo | None:
        """Write the trace info the client sent (creating the trace, or completing one made by its spans);
        return the trace's info as stored (unless not ``read_back``).

        Only what changes is written: a trace its spans made already has most of it (its root span's
        state, times and name; the fixed tags), and every column, tag or index entry written again is a
        page more for the commit to write. The info's values win, as an upsert of all of them would."""
        meta = info.metadata
        values = (experiment_id, info.client_request_id, info.request_time_ms, info.execution_time_ms, info.state,
                  info.request_preview, info.response_preview, (info.tags.get("mlflow.traceName") or "")[:250] or None,
                  meta.get("mlflow.sourceRun") or None, (meta.get("mlflow.trace.session") or "")[:250] or None,
                  (meta.get("mlflow.trace.user") or "")[:250] or None, True)
        tags = {**fixed_tags, **info.tags}
        stored: tuple[Any, ...] = values
        row = tx.one(self._info_row_sql, (info.trace_id,))
        if row is None:
            found = tx.one(self._new_info, (info.trace_id, *values))
            if found is None:  # made meanwhile by another transaction (PostgreSQL)
                row = tx.one(self._info_row_sql, (info.trace_id,))
            else:
                pk = found[0]
                self._upsert_rows(tx, "tag", [(pk, k, v) for k, v in tags.items()])
                self._upsert_rows(tx, "metadata", [(pk, k, v) for k, v in meta.items()])
        if row is not None:
            pk, old = row[0], row[1:]
            # As COALESCE: a preview, name, run, session or user the info leaves out keeps the stored one.
            stored = tuple(was if new is None and i in _KEPT_IF_NONE else new
                           for i, (new, was) in enumerate(zip(values, old, strict=True)))
            changed = tuple(i for i, (new, was) in enumerate(zip(stored, old, strict=True)) if new != was)
            if changed:
                tx.execute(self._update_info_sql(changed), (*(stored[i] for i in changed), pk))
            old_tags, old_meta, assessments = self._hanging(tx, pk)
            self._upsert_rows(tx, "tag", [(pk, k, v) for k, v in tags.items() if old_tags.get(k) != v])
            self._upsert_rows(tx, "metadata", [(pk, k, v) for k, v in meta.items() if old_meta.get(k) != v])
            tags, meta = {**old_tags, **tags}, {**old_meta, **meta}
        if prompts:
            tx.executemany(self._link_prompt, [(pk, name, version) for name, version in prompts])
        if not read_back:
            return None
        out = TraceInfo(info.trace_id, str(stored[0]), stored[2], stored[3], stored[4], stored[5], stored[6],
                        stored[1], tags, meta)
        if row is not None:  # a new trace has none yet
            out.assessments = assessments
        return out

    def _hanging(self, tx: Tx, pk: int) -> tuple[dict[str, str], dict[str, str], list[dict[str, Any]]]:
        """The tags, metadata and assessments (by creation) of the trace ``pk``, in one statement."""
        tags: dict[str, str] = {}
        meta: dict[str, str] = {}
        assessments = []
        for kind, first, second, created in tx.all(self._hanging_sql, (pk, pk, pk)):
            if kind == 0:
                tags[first] = second
            elif kind == 1:
                meta[first] = second
            else:  # (create_time_ms, assessment_id, body)
                assessments.append((created, second, first))
        return tags, meta, [json.loads(body) for _, _, body in sorted(assessments)]

    def _update_info_sql(self, columns: tuple[int, ...]) -> str:
        """``UPDATE traces`` of those of :data:`_INFO_COLUMNS` (by index) that changed: an index whose columns
        are not set is left alone."""
        sql = self._info_updates.get(columns)
        if sql is None:
            sets = ", ".join(f"{_INFO_COLUMNS[i]} = {self.db.ph}" for i in columns)
            sql = self._info_updates[columns] = f"UPDATE traces SET {sets} WHERE id = {self.db.ph}"
        return sql

    def set_tag(self, conn: Connection, pk: int, key: str, value: str) -> None:
        conn.exec_driver_sql(self._upsert_tag, [(pk, key, value)])
        if key == "mlflow.traceName":
            conn.execute(update(t.traces).where(t.traces.c.id == pk).values(name=value[:250]))

    def delete_tag(self, conn: Connection, pk: int, key: str) -> bool:
        c = t.trace_tags.c
        return bool(conn.execute(delete(t.trace_tags).where(c.trace_pk == pk, c.key == key)).rowcount)

    def delete(self, conn: Connection, pks: Sequence[int]) -> int:
        """Delete the traces ``pks`` and everything that hangs off them."""
        for chunk in _chunks(list(pks)):
            for table in (t.span_attributes, t.spans, t.trace_tags, t.trace_metadata, t.trace_assessments,
                          t.trace_run_links, t.trace_prompt_links, span_usage):
                conn.execute(delete(table).where(table.c.trace_pk.in_(chunk)))
            conn.execute(delete(t.traces).where(t.traces.c.id.in_(chunk)))
        return len(pks)

    def pks_to_delete(self, conn: Connection, experiment_id: int, trace_ids: Sequence[str] | None,
                      max_timestamp_ms: int | None, max_traces: int | None) -> list[int]:
        c = t.traces.c
        query = select(c.id).where(c.experiment_id == experiment_id)
        if trace_ids is not None:
            return [pk for chunk in _chunks(list(trace_ids))
                    for (pk,) in conn.execute(query.where(c.trace_id.in_(chunk)))]
        if max_timestamp_ms is not None:
            query = query.where(c.request_time_ms <= max_timestamp_ms)
        query = query.order_by(c.request_time_ms, c.id)
        if max_traces is not None:
            query = query.limit(max_traces)
        return [pk for (pk,) in conn.execute(query)]

    def pks_of(self, conn: Connection, experiment_id: int, *, user: str | None = None,
               session_id: str | None = None) -> list[int]:
        """The traces of one user or one session in an experiment."""
        c = t.traces.c
        query = select(c.id).where(c.experiment_id == experiment_id)
        query = query.where(c.user_id == user) if user is not None else query.where(c.session_id == session_id)
        return [pk for (pk,) in conn.execute(query)]

    def experiment_tags(self, conn: Connection, key: str) -> dict[int, str]:
        """Experiment id -> value of the experiment tag ``key``, for the experiments that carry it."""
        from .schema import experiment_tags

        e = experiment_tags.c
        return {int(exp): value for exp, value in conn.execute(select(e.experiment_id, e.value).where(e.key == key))}

    def experiments_with_traces(self, conn: Connection) -> list[int]:
        c = t.traces.c
        return [int(exp) for (exp,) in conn.execute(select(c.experiment_id).distinct())]

    def older_than(self, conn: Connection, experiment_id: int, before_ms: int, limit: int) -> list[tuple[int, str]]:
        """(pk, trace id) of at most ``limit`` of the experiment's traces started before ``before_ms``, oldest first."""
        c = t.traces.c
        query = (select(c.id, c.trace_id).where(c.experiment_id == experiment_id, c.request_time_ms < before_ms)
                 .order_by(c.request_time_ms, c.id).limit(limit))
        return [(pk, tid) for pk, tid in conn.execute(query)]

    def link_runs(self, conn: Connection, pks: Sequence[int], run_id: str) -> None:
        if not pks:  # nothing to link (an empty executemany is an error on PostgreSQL)
            return
        sql = self.db.insert_ignore("trace_run_links", ("trace_pk", "run_id"))
        conn.exec_driver_sql(sql, [(pk, run_id) for pk in pks])

    def link_prompts(self, conn: Connection, pk: int, versions: Sequence[tuple[str, str]]) -> None:
        if not versions:
            return
        sql = self.db.insert_ignore("trace_prompt_links", ("trace_pk", "name", "version"))
        conn.exec_driver_sql(sql, [(pk, name, version) for name, version in versions])

    def linked_prompts(self, conn: Connection, pk: int) -> list[tuple[str, str]]:
        c = t.trace_prompt_links.c
        return [(n, v) for n, v in conn.execute(select(c.name, c.version).where(c.trace_pk == pk).order_by(c.name))]

    # ---- assessments ----------------------------------------------------------

    def put_assessment(self, conn: Connection, pk: int, body: dict[str, Any], kind: str, value_text: str | None,
                       value_number: float | None, create_ms: int, update_ms: int, *, new: bool) -> None:
        values = dict(
            trace_pk=pk, name=body["assessment_name"], kind=kind, value_text=value_text, value_number=value_number,
            create_time_ms=create_ms, last_update_time_ms=update_ms, valid=body.get("valid", True) is not False,
            body=json.dumps(body, separators=(",", ":")),
        )
        a = t.trace_assessments
        if new:
            conn.execute(a.insert().values(assessment_id=body["assessment_id"], **values))
        else:
            conn.execute(update(a).where(a.c.assessment_id == body["assessment_id"]).values(**values))

    def assessment(self, conn: Connection, pk: int, assessment_id: str) -> dict[str, Any] | None:
        a = t.trace_assessments.c
        found = conn.execute(select(a.body).where(a.trace_pk == pk, a.assessment_id == assessment_id)).scalar()
        return None if found is None else json.loads(found)

    def set_assessment_valid(self, conn: Connection, assessment_id: str, valid: bool, body: dict[str, Any]) -> None:
        a = t.trace_assessments
        conn.execute(update(a).where(a.c.assessment_id == assessment_id).values(
            valid=valid, body=json.dumps(body, separators=(",", ":"))))

    def delete_assessment(self, conn: Connection, pk: int, assessment_id: str) -> bool:
        a = t.trace_assessments.c
        return bool(conn.execute(
            delete(t.trace_assessments).where(a.trace_pk == pk, a.assessment_id == assessment_id)).rowcount)

    def assessments_page(self, conn: Connection, experiment_id: int, after: tuple[int, str] | None,
                         limit: int) -> list[tuple[int, str, str | None, str | None, str]]:
        """(trace pk, trace id, request preview, response preview, assessment body) of the experiment's
        valid assessments, by trace then assessment id, after ``after`` (the last (pk, assessment id))."""
        c, a = t.traces.c, t.trace_assessments.c
        query = (select(c.id, c.trace_id, c.request_preview, c.response_preview, a.body, a.assessment_id)
                 .select_from(t.traces.join(t.trace_assessments, a.trace_pk == c.id))
                 .where(c.experiment_id == experiment_id, a.valid.is_(True)))
        if after is not None:
            query = query.where(or_(c.id > after[0], and_(c.id == after[0], a.assessment_id > after[1])))
        query = query.order_by(c.id, a.assessment_id).limit(limit)
        return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(query)]

    def root_spans(self, conn: Connection, pks: Sequence[int]) -> dict[int, str]:
        """The root span's content of each of ``pks`` that has one."""
        s = t.spans.c
        out: dict[int, str] = {}
        for chunk in _chunks(list(pks)):
            out.update((pk, content) for pk, content in conn.execute(
                select(s.trace_pk, s.content).where(s.trace_pk.in_(chunk), s.parent_span_id.is_(None))))
        return out

    # ---- reads ----------------------------------------------------------------

    def rows(self, conn: Connection, trace_ids: Sequence[str]) -> dict[str, TraceRow]:
        c = t.traces.c
        out: dict[str, TraceRow] = {}
        for chunk in _chunks(list(trace_ids)):
            for pk, trace_id, exp in conn.execute(select(c.id, c.trace_id, c.experiment_id).where(c.trace_id.in_(chunk))):
                out[trace_id] = TraceRow(pk, trace_id, exp)
        return out

    def infos(self, conn: Connection, pks: Sequence[int]) -> list[TraceInfo]:
        """The infos of ``pks``, in that order (tags, metadata and assessments included)."""
        if not pks:
            return []
        c = t.traces.c
        by_pk: dict[int, TraceInfo] = {}
        for chunk in _chunks(list(pks)):
            for row in conn.execute(select(
                    c.id, c.trace_id, c.experiment_id, c.request_time_ms, c.execution_time_ms, c.state,
                    c.request_preview, c.response_preview, c.client_request_id).where(c.id.in_(chunk))):
                by_pk[row[0]] = TraceInfo(row[1], str(row[2]), row[3], row[4], row[5], row[6], row[7], row[8])
            for table, attr in ((t.trace_tags, "tags"), (t.trace_metadata, "metadata")):
                for pk, key, value in conn.execute(
                        select(table.c.trace_pk, table.c.key, table.c.value).where(table.c.trace_pk.in_(chunk))):
                    getattr(by_pk[pk], attr)[key] = value
            a = t.trace_assessments.c
            for pk, body in conn.execute(select(a.trace_pk, a.body).where(a.trace_pk.in_(chunk))
                                         .order_by(a.create_time_ms, a.assessment_id)):
                by_pk[pk].assessments.append(json.loads(body))
        return [by_pk[pk] for pk in pks if pk in by_pk]

    def spans(self, conn: Connection, pk: int, after: tuple[int, int, str] | None,
              limit: int | None) -> list[StoredSpan]:
        """The trace's spans, the root first and then by start time (as MLflow orders them), from
        after ``after`` (the (is_child, start_time_ns, span_id) of the previous page's last span), at most ``limit``.

        Two index scans of (trace_pk, start_time_ns, span_id), roots then children: no sort, so a
        page costs the same at any depth of a 30,000-span trace.
        """
        ph = self.db.ph
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # same transaction, no Row objects
        out: list[StoredSpan] = []
        for child in (0, 1):
            if after is not None and after[0] > child:
                continue
            sql = ("SELECT span_id, parent_span_id, start_time_ns, content FROM spans WHERE trace_pk = "
                   f"{ph} AND parent_span_id IS {'NOT ' if child else ''}NULL")
            params: list[Any] = [pk]
            if after is not None and after[0] == child:
                sql += f" AND start_time_ns >= {ph} AND (start_time_ns > {ph} OR span_id > {ph})"
                params += [after[1], after[1], after[2]]
            sql += " ORDER BY start_time_ns, span_id"
            if limit is not None:
                if len(out) >= limit:
                    break
                sql += f" LIMIT {int(limit - len(out))}"
            cur.execute(sql, params)
            out += map(StoredSpan._make, cur.fetchall())
        cur.close()
        return out

    def outline(self, conn: Connection, pk: int) -> list[tuple[Any, ...]]:
        """Every span of the trace without its content: (span_id, parent_span_id, name, type, status,
        start_time_ns, end_time_ns), by start time. What the trace page draws its tree and timeline from."""
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cur.execute("SELECT span_id, parent_span_id, name, type, status, start_time_ns, end_time_ns FROM spans"
                    f" WHERE trace_pk = {self.db.ph} ORDER BY start_time_ns, span_id", (pk,))
        rows = list(cur.fetchall())
        cur.close()
        return rows

    def span(self, conn: Connection, pk: int, span_id: str) -> str | None:
        """One span's content (OpenTelemetry protobuf JSON), or None."""
        s = t.spans.c
        found = conn.execute(select(s.content).where(s.trace_pk == pk, s.span_id == span_id)).scalar()
        return None if found is None else str(found)

    def search(self, conn: Connection, experiment_ids: Sequence[int], filters: Sequence[Comparison],
               order: Sequence[tuple[str, bool]], limit: int, offset: int,
               after: tuple[int, int] | None) -> list[tuple[int, int]]:
        """(pk, request_time_ms) of one page of matching traces.

        ``order`` is (column, ascending) pairs of ``traces``; none means newest first, paged by keyset
        (``after`` is the last (request_time_ms, pk) of the previous page); else by ``offset``.
        """
        c = t.traces.c
        narrow = self._narrowest(conn, filters)
        if narrow is None:
            query = select(c.id, c.request_time_ms).where(c.experiment_id.in_(list(experiment_ids)))
        elif not narrow:
            return []
        else:
            # Those traces by primary key; ``experiment_id + 0`` keeps SQLite's planner off the experiment's
            # time index (a scan of it for them, to save sorting at most PROBE_LIMIT rows).
            query = select(c.id, c.request_time_ms).where(c.id.in_(narrow),
                                                          (c.experiment_id + 0).in_(list(experiment_ids)))
        for f in filters:
            if f.kind != "span":
                query = query.where(self._condition(f))
        on_span = [f for f in filters if f.kind == "span"]
        if on_span:  # span.name, type, status and content: all of them true of one span, as MLflow
            s = t.spans.c
            query = query.where(exists().where(
                s.trace_pk == c.id, *(_compare(getattr(s, f.key), f.op, f.value) for f in on_span)))
        if order:
            keys = [(getattr(c, col).asc() if asc else getattr(c, col).desc()) for col, asc in order]
            query = query.order_by(*keys, c.id.desc()).offset(offset)
        else:
            if after is not None:
                query = query.where(or_(c.request_time_ms < after[0],
                                        and_(c.request_time_ms == after[0], c.id < after[1])))
            query = query.order_by(c.request_time_ms.desc(), c.id.desc())
        return [(pk, ts) for pk, ts in conn.execute(query.limit(limit))]

    def _narrowest(self, conn: Connection, filters: Sequence[Comparison]) -> list[int] | None:
        """The traces that can match the most selective filter on a tag, metadata, span name or type,
        span attribute or assessment (:func:`_candidates`), when fewer than :data:`PROBE_LIMIT` rows
        match it; None when no such filter is that rare.

        A page of a rare value then costs a lookup of those traces, not a scan of the experiment newest
        first until a page is found (which a common value fills at once). On PostgreSQL a filter is probed
        only when the planner expects fewer rows than that (:meth:`_estimate`)."""
        best: list[int] | None = None
        trigram = self._trigram_indexes(conn)
        # Values first: a pattern's probe may read a whole index, not needed once a value is rare.
        for f in sorted(filters, key=lambda f: f.op in ("LIKE", "ILIKE")):
            candidates = _candidates(f, self.db.is_sqlite, trigram)
            if candidates is None or (best is not None and f.op in ("LIKE", "ILIKE")):
                continue
            if not self.db.is_sqlite and self._estimate(conn, candidates) > PROBE_LIMIT:
                continue  # a common value or pattern: the newest-first scan fills a page sooner than the probe ends
            pks: list[int] = [int(row[0]) for row in conn.execute(candidates.limit(PROBE_LIMIT))]
            if len(pks) < PROBE_LIMIT and (best is None or len(pks) < len(best)):
                best = pks
        return None if best is None else sorted(set(best))

    @staticmethod
    def _estimate(conn: Connection, query: Select[Any]) -> float:
        """PostgreSQL's estimate of the rows ``query`` returns (its plan, not its run: a millisecond or two).

        It reads the column's statistics (its most common values, its histogram's share of values a pattern
        matches), so a value or pattern held by a fifth of the spans is known to be common before a probe
        reads thousands of them."""
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})  # IN lists
        found: Any = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
        plan = json.loads(found) if isinstance(found, str) else found
        return float(plan[0]["Plan"]["Plan Rows"])

    def _trigram_indexes(self, conn: Connection) -> frozenset[str]:
        """The names of the trigram indexes migration 0023 made (PostgreSQL with pg_trgm), read once: none
        when it could not, and an operator may drop one (the spans' JSON index, the costliest to keep)."""
        if self._trigram is None:
            names = {name for name, _table, _column in t.TRIGRAM_INDEXES}
            self._trigram = frozenset() if self.db.is_sqlite else frozenset(
                name for (name,) in conn.exec_driver_sql("SELECT indexname FROM pg_indexes") if name in names)
        return self._trigram

    def _condition(self, f: Comparison) -> ColumnElement[bool]:
        c = t.traces.c
        if f.kind == "attribute":
            if f.key == "run_id":
                links = t.trace_run_links.c
                linked = exists().where(links.trace_pk == c.id, _compare(links.run_id, f.op, f.value))
                return or_(_compare(c.run_id, f.op, f.value), linked)
            if f.key == "end_time_ms":
                return _compare(c.request_time_ms + func.coalesce(c.execution_time_ms, 0), f.op, f.value)
            if f.key == "text":
                s = t.spans.c
                return exists().where(s.trace_pk == c.id, _compare(s.content, f.op, f.value))
            if f.key == "prompt":
                p = t.trace_prompt_links.c
                return exists().where(p.trace_pk == c.id, _compare(p.name + literal("/") + p.version, f.op, f.value))
            return _compare(getattr(c, f.key), f.op, f.value)
        if f.kind == "metadata" and f.key in _METADATA_COLUMNS and f.op == "=" and len(str(f.value)) <= 250:
            return _compare(getattr(c, _METADATA_COLUMNS[f.key]), f.op, f.value)  # copied into an indexed column
        if f.kind in ("tag", "metadata"):
            kv = (t.trace_tags if f.kind == "tag" else t.trace_metadata).c
            if f.op == "IS NULL":
                return not_(exists().where(kv.trace_pk == c.id, kv.key == f.key))
            has = exists().where(kv.trace_pk == c.id, kv.key == f.key)
            if f.op == "IS NOT NULL":
                return has
            return exists().where(kv.trace_pk == c.id, kv.key == f.key, _compare(kv.value, f.op, f.value))
        if f.kind == "span":
            s = t.spans.c
            return exists().where(s.trace_pk == c.id, _compare(getattr(s, f.key), f.op, f.value))
        if f.kind == "span_attribute":
            sa = t.span_attributes.c
            return exists().where(sa.trace_pk == c.id, sa.key == f.key, _compare(sa.value, f.op, f.value))
        a = t.trace_assessments.c  # feedback or expectation
        where = [a.trace_pk == c.id, a.kind == f.kind, a.name == f.key, a.valid.is_(True)]
        if f.op == "IS NULL":
            return not_(exists().where(*where))
        if f.op == "IS NOT NULL":
            return exists().where(*where)
        if f.op in ("<", "<=", ">", ">="):
            try:
                number = float(f.value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return exists().where(*where, _compare(a.value_text, f.op, f.value))
            return exists().where(*where, _compare(a.value_number, f.op, number))
        if f.op == "=":
            return exists().where(*where, _assessment_equals(f.value))
        return exists().where(*where, _compare(a.value_text, f.op, f.value))


def _assessment_equals(value: Any) -> ColumnElement[bool]:
    """An assessment's value equal to ``value``: as text, or as a number when it is one (``'5'`` is 5, and 5.0)."""
    a = t.trace_assessments.c
    try:
        number = float(value)
    except (TypeError, ValueError):
        return a.value_text == value  # type: ignore[no-any-return]
    if not math.isfinite(number):
        return a.value_text == value  # type: ignore[no-any-return]
    return or_(a.value_text == value, a.value_number == number)


def _prefix_ranges(column: Any, pattern: str) -> ColumnElement[bool] | None:
    """On SQLite, the index ranges that hold every value a ``LIKE``/``ILIKE`` ``pattern`` can match
    (both ASCII-case-insensitive there): one range per case of the literal prefix (of its first three
    letters and what comes between them); None without a literal prefix."""
    cut = min((i for i in (pattern.find("%"), pattern.find("_")) if i >= 0), default=len(pattern))
    variants = {""}
    for ch in pattern[:cut]:
        cases = {ch.lower(), ch.upper()} if ch.isascii() else {ch}
        if len(variants) * len(cases) > 8:
            break
        variants = {v + c for v in variants for c in cases}
    if variants == {""}:
        return None
    return or_(*(and_(column >= v, column < v[:-1] + chr(ord(v[-1]) + 1)) for v in sorted(variants)))


def _matching(column: Any, op: str, value: Any, sqlite: bool) -> ColumnElement[bool]:
    """``column op value`` for a pattern, with its prefix's index ranges on SQLite."""
    ranges = _prefix_ranges(column, str(value)) if sqlite else None
    return _compare(column, op, value) if ranges is None else and_(ranges, _compare(column, op, value))


def _trigram_usable(pattern: str) -> bool:
    """Whether a trigram index narrows a ``LIKE`` ``pattern``: three literal characters in a row, or two at its
    start. Else (``'%ab%'``) pg_trgm would read its whole index."""
    runs = pattern.replace("_", "%").split("%")
    return max(map(len, runs)) >= 3 or len(runs[0]) >= 2


def _candidates(f: Comparison, sqlite: bool, trigram: frozenset[str] = frozenset()) -> Select[Any] | None:
    """The trace pks of the rows a filter on a tag, metadata, span name or type, span attribute or
    assessment matches, read from that table's index: by value for ``=`` and ``IN``; for ``LIKE`` and
    ``ILIKE`` by reading the index (it holds the value and the trace: no row is read), which costs less
    than testing the pattern trace by trace when few match. With the trigram indexes (``trigram``, their
    names: PostgreSQL, migration 0023) also ``LIKE``/``ILIKE`` on the trace's name, on an assessment, and on
    every span's JSON (``trace.text``, ``span.content``) when the pattern has trigrams to look up
    (:func:`_trigram_usable`). None for other filters."""
    if f.op not in ("=", "IN", "LIKE", "ILIKE") or f.value is None:
        return None
    pattern = f.op in ("LIKE", "ILIKE")
    values: list[Any] = list(f.value) if isinstance(f.value, tuple | list) else [f.value]
    if trigram and pattern:
        on_content = (f.kind == "attribute" and f.key == "text") or (f.kind == "span" and f.key == "content")
        if on_content and "ix_spans_content_trgm" in trigram and _trigram_usable(str(f.value)):
            return select(t.spans.c.trace_pk).where(_compare(t.spans.c.content, f.op, f.value))
        if f.kind == "attribute" and f.key == "name" and "ix_traces_name_trgm" in trigram:
            return select(t.traces.c.id).where(_compare(t.traces.c.name, f.op, f.value))
        if f.kind in ("feedback", "expectation") and "ix_trace_assessments_value_trgm" in trigram:
            a = t.trace_assessments.c
            return select(a.trace_pk).where(_compare(a.value_text, f.op, f.value), a.name == f.key,
                                            a.kind == f.kind, a.valid.is_(True))
    if f.kind in ("tag", "metadata"):
        if f.kind == "metadata" and f.key in _METADATA_COLUMNS:
            return None  # a column of traces, indexed
        kv = (t.trace_tags if f.kind == "tag" else t.trace_metadata).c
        if pattern:
            return select(kv.trace_pk).where(kv.key == f.key, _matching(kv.value, f.op, f.value, sqlite))
        texts = sorted({str(v) for v in values})
        return select(kv.trace_pk).where(or_(*(kv.value == v for v in texts)), kv.key == f.key)
    if f.kind == "span" and f.key in ("name", "type"):
        column = getattr(t.spans.c, f.key)
        return select(t.spans.c.trace_pk).where(
            _matching(column, f.op, f.value, sqlite) if pattern else column.in_(values))
    if f.kind == "span_attribute":
        sa = t.span_attributes.c
        return select(sa.trace_pk).where(sa.key == f.key,
                                         _matching(sa.value, f.op, f.value, sqlite) if pattern else sa.value.in_(values))
    if f.kind in ("feedback", "expectation") and f.op == "=":
        a = t.trace_assessments.c
        return select(a.trace_pk).where(a.name == f.key, _assessment_equals(f.value), a.kind == f.kind,
                                        a.valid.is_(True))
    return None


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "LIKE":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "ILIKE":
        return column.ilike(value)  # type: ignore[no-any-return]
    if op == "IN":
        return column.in_(list(value))  # type: ignore[no-any-return]
    if op == "NOT IN":
        return column.not_in(list(value))  # type: ignore[no-any-return]
    raise ValueError(f"unknown operator {op}")

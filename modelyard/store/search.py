"""SQL for searching runs and experiments, from a parsed search (``modelyard.query``).

Semantics follow MLflow 3.17.2's SQL store (``mlflow/store/tracking/sqlalchemy_store.py``):

- A metric, param or tag comparison keeps only runs that have the key and whose
  value passes (an inner join), so ``params.p != 'a'`` never matches a run
  without ``p``. ``IS NULL`` / ``IS NOT NULL`` test whether the key exists.
- Metrics compare the latest value. A NaN (stored as 0 with ``is_nan``)
  passes ``!=`` and nothing else.
- A dataset comparison keeps runs with at least one input whose dataset name
  or digest (or input tag ``mlflow.data.context``) passes.
- ``ORDER BY`` puts, for every key and in both directions, runs lacking the
  key last, and for metrics NaN just before them; then ``start_time DESC``
  (unless ordered on already) and ``run_uuid`` break ties. NULL start times in
  that tie-break sit where the database puts them, as in MLflow.

``LIKE`` is case-sensitive and ``ILIKE`` case-insensitive on both databases
(MLflow on SQLite gets this wrong: SQLite's ``LIKE`` ignores ASCII case).
Patterns use ``%`` and ``_``, and a backslash makes the next character
literal, as PostgreSQL's default ``LIKE`` escape does. On PostgreSQL that is
native ``LIKE`` / ``ILIKE``; on SQLite the pattern is translated to ``GLOB``,
which is case-sensitive whatever ``PRAGMA case_sensitive_like`` says, and for
``ILIKE`` every cased letter becomes a class of its case variants
(``'Ab%'`` becomes ``'[aA][bB]*'``) so case folding covers Unicode letters,
not only ASCII as SQLite's ``lower()`` and ``LIKE`` would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement, Select, and_, case, cast, exists, false, func, literal, null, or_, select, true, union_all,
)
from sqlalchemy.sql.expression import FromClause

from ..query import (
    ATTRIBUTE, DATASET, DATASET_CONTEXT_TAG, METRIC, PARAM, TAG, Comparison, OrderKey,
)
from .schema import datasets, experiment_tags, experiments, input_tags, inputs, latest_metrics, params, runs, tags

__all__ = ["compare", "experiment_search_select", "metric_value_filter", "run_search_select"]

_RUN_COLUMNS = {
    "run_id": runs.c.run_uuid, "run_name": runs.c.name, "status": runs.c.status,
    "user_id": runs.c.user_id, "artifact_uri": runs.c.artifact_uri,
    "start_time": runs.c.start_time, "end_time": runs.c.end_time,
}
_KEY_VALUE_TABLES = {METRIC: latest_metrics, PARAM: params, TAG: tags}


def _like_tokens(pattern: str) -> list[tuple[bool, str]]:
    """Split a LIKE pattern into (is_wildcard, char); a backslash escapes the next char."""
    out: list[tuple[bool, str]] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append((False, next(chars, "\\")))
        else:
            out.append((ch in "%_", ch))
    return out


def _postgres_pattern(pattern: str) -> str:
    return "".join(ch if wild else ("\\" + ch if ch in "%_\\" else ch) for wild, ch in _like_tokens(pattern))


def _glob_pattern(pattern: str, ignore_case: bool) -> str:
    parts = []
    for wild, ch in _like_tokens(pattern):
        if wild:
            parts.append("*" if ch == "%" else "?")
            continue
        variants = {ch}
        if ignore_case:
            variants |= {v for v in (ch.lower(), ch.upper(), ch.swapcase()) if len(v) == 1}
        if len(variants) > 1:
            parts.append("[" + "".join(sorted(variants)) + "]")
        elif ch in "*?[":
            parts.append("[" + ch + "]")
        else:
            parts.append(ch)
    return "".join(parts)


def compare(column: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """``column <op> value`` with every value bound as a parameter."""
    if op in ("LIKE", "ILIKE"):
        if dialect == "sqlite":
            return column.op("GLOB")(_glob_pattern(value, op == "ILIKE"))  # type: ignore[no-any-return]
        pattern = _postgres_pattern(value)
        return column.like(pattern) if op == "LIKE" else column.ilike(pattern)  # type: ignore[no-any-return]
    if op == "IN":
        return column.in_(list(value))  # type: ignore[no-any-return]
    if op == "NOT IN":
        return column.not_in(list(value))  # type: ignore[no-any-return]
    binary = {
        "=": column.__eq__, "!=": column.__ne__, "<": column.__lt__,
        "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__,
    }
    if op not in binary:
        raise ValueError(f"unsupported comparison operator {op!r}")
    return binary[op](value)  # type: ignore[no-any-return]


def metric_value_filter(column: Any, is_nan: Any, op: str, value: float, dialect: str) -> ColumnElement[bool]:
    """``column <op> value`` for a metric stored as a value plus an ``is_nan`` flag."""
    # NaN is stored as 0 with is_nan: it must satisfy "!=" and nothing else.
    if op == "!=":
        return or_(column != value, is_nan == true())
    return and_(compare(column, op, value, dialect), is_nan == false())


def _dataset_exists(f: Comparison, dialect: str) -> ColumnElement[bool]:
    if f.key == "context":
        return exists().where(
            inputs.c.run_id == runs.c.id,
            input_tags.c.input_id == inputs.c.id,
            input_tags.c.name == DATASET_CONTEXT_TAG,
            compare(input_tags.c.value, f.op, f.value, dialect),
        )
    return exists().where(
        inputs.c.run_id == runs.c.id,
        datasets.c.id == inputs.c.dataset_id,
        compare(datasets.c[f.key], f.op, f.value, dialect),
    )


def _filter_condition(f: Comparison, dialect: str) -> ColumnElement[bool]:
    """One filter as a WHERE term on ``runs``: a column test or a correlated EXISTS."""
    if f.kind == ATTRIBUTE:
        return compare(_RUN_COLUMNS[f.key], f.op, f.value, dialect)
    if f.kind == DATASET:
        return _dataset_exists(f, dialect)
    table = _KEY_VALUE_TABLES[f.kind]
    row = [table.c.run_id == runs.c.id, table.c.key == f.key]
    if f.op in ("IS NULL", "IS NOT NULL"):
        present = exists().where(*row)
        return present if f.op == "IS NOT NULL" else ~present
    if f.kind == METRIC:
        passes = metric_value_filter(table.c.value, table.c.is_nan, f.op, float(f.value), dialect)  # type: ignore[arg-type]
    else:
        passes = compare(table.c.value, f.op, f.value, dialect)
    return exists().where(*row, passes)


def _sort_terms(keys: list[OrderKey], source: FromClause, first: int) -> tuple[FromClause, list[tuple[Any, bool]]]:
    """ORDER BY terms (expression, ascending) for ``keys``, outer-joining key/value rows to ``source``.

    For every key, a rank puts runs lacking it last (and NaN metrics just before
    them) in both directions, as MLflow does; then the value; then the tie-breaks.
    """
    terms: list[tuple[Any, bool]] = []
    for n, o in enumerate(keys, start=first):
        if o.kind == ATTRIBUTE:
            value = _RUN_COLUMNS[o.key]
            if value.nullable:
                terms.append((case((value.is_(None), 1), else_=0), True))
        elif o.kind in _KEY_VALUE_TABLES:
            row = _KEY_VALUE_TABLES[o.kind].alias(f"o{n}")
            source = source.outerjoin(row, and_(row.c.run_id == runs.c.id, row.c.key == o.key))
            value = row.c.value
            if o.kind == METRIC:
                terms.append((case((row.c.is_nan == true(), 1), (value.is_(None), 2), else_=0), True))
            else:
                terms.append((case((value.is_(None), 1), else_=0), True))
        else:
            raise ValueError(f"runs cannot be ordered by {o.kind} fields")
        terms.append((value, o.ascending))
    if not any(o.kind == ATTRIBUTE and o.key == "start_time" for o in keys):
        terms.append((runs.c.start_time, False))
    terms.append((runs.c.run_uuid, True))
    return source, terms


def _ordered(terms: list[tuple[Any, bool]]) -> list[Any]:
    return [t.asc() if asc else t.desc() for t, asc in terms]


def _segments(key: OrderKey) -> list[tuple[FromClause, list[ColumnElement[bool]], Any]] | None:
    """Split runs by the rank of the first sort key: (source, where, sort value) per rank.

    Rank 0 holds the runs with a value; a database can read it in index order
    and stop at the page's end. NaN metrics (rank 1) and runs lacking the key
    (rank 2) follow. None when the key needs no split.
    """
    if key.kind == ATTRIBUTE:
        column = _RUN_COLUMNS[key.key]
        if not column.nullable:
            return None
        return [(runs, [column.is_not(None)], column), (runs, [column.is_(None)], None)]
    table = _KEY_VALUE_TABLES[key.kind]
    row = table.alias("k")
    on = and_(row.c.run_id == runs.c.id, row.c.key == key.key)
    has_value = exists().where(table.c.run_id == runs.c.id, table.c.key == key.key, table.c.value.is_not(None))
    if key.kind == METRIC:
        return [(runs.join(row, and_(on, row.c.is_nan == false())), [], row.c.value),
                # NaN rows hold value 0: saying so lets the (key, value) index find them.
                (runs.join(row, and_(on, row.c.value == 0, row.c.is_nan == true())), [], None),
                (runs, [~has_value], None)]
    return [(runs.join(row, and_(on, row.c.value.is_not(None))), [], row.c.value), (runs, [~has_value], None)]


def run_search_select(
    experiment_ids: list[int],
    lifecycle_stages: tuple[str, ...],
    filters: list[Comparison],
    order_by: list[OrderKey],
    limit: int,
    offset: int,
    dialect_name: str,
) -> Select[Any]:
    """The page of runs (all ``runs`` columns) that match, in MLflow's order.

    Pass ``limit = max_results + 1`` to learn whether a next page exists, e.g.
    ``run_search_select([1], ("active",), [Comparison("metric", "acc", ">", 0.9)],
    [OrderKey("metric", "acc", False)], 101, 0, conn.dialect.name)``.

    Filters are correlated EXISTS terms, so the database walks runs in the
    requested order (an index on the sort key, or on ``start_time``) and stops
    once the page is full. When the first sort key can be missing, the query is
    a UNION ALL of one branch per rank (values, NaN, missing), each cut at
    ``offset + limit`` rows; a later branch runs only if the earlier ones came
    up short.
    """
    where = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(list(lifecycle_stages)),
        *(_filter_condition(f, dialect_name) for f in filters),
    ]
    segments = _segments(order_by[0]) if order_by else None
    if segments is None:
        source, terms = _sort_terms(order_by, runs, 0)
        return select(runs).select_from(source).where(*where).order_by(*_ordered(terms)).limit(limit).offset(offset)

    need = offset + limit
    first = order_by[0]
    value_type = segments[0][2].type
    branches: list[Any] = []
    for rank, (base, extra, value) in enumerate(segments):
        source, terms = _sort_terms(order_by[1:], base, 1)
        labelled = [t.label(f"t{i}") for i, (t, _) in enumerate(terms) if not _is_run_column(t)]
        branch = (
            select(runs, literal(rank).label("rank"),
                   (value if value is not None else cast(null(), value_type)).label("v0"), *labelled)
            .select_from(source).where(*extra, *where)
            .order_by(*_ordered(([(value, first.ascending)] if value is not None else []) + terms))
        )
        if branches:
            # A later rank is read only if the earlier ones came up short. The
            # guard sits in LIMIT, which both databases evaluate once, first.
            filled = sum((select(func.count()).select_from(b).scalar_subquery() for b in branches), literal(0))
            branch = branch.limit(case((filled < need, need - filled), else_=0))
        else:
            branch = branch.limit(need)
        branches.append(branch.cte(f"rank{rank}"))
    page = union_all(*(select(b) for b in branches)).subquery("page")
    outer = [(page.c.rank, True), (page.c.v0, first.ascending)] + [
        (page.c[t.name] if _is_run_column(t) else page.c[f"t{i}"], asc) for i, (t, asc) in enumerate(terms)
    ]
    return select(*(page.c[c.name] for c in runs.c)).order_by(*_ordered(outer)).limit(limit).offset(offset)


def _is_run_column(expr: Any) -> bool:
    return getattr(expr, "table", None) is runs


def experiment_search_select(
    lifecycle_stages: tuple[str, ...],
    filters: list[Comparison],
    order_by: list[OrderKey],
    limit: int,
    offset: int,
    dialect_name: str,
) -> Select[Any]:
    """The page of experiments (all ``experiments`` columns) that match, in MLflow's order.

    No ``order_by`` means ``creation_time DESC, experiment_id ASC``; otherwise
    ``experiment_id DESC`` breaks ties unless ordered on already (as MLflow).
    """
    exp = experiments
    source: FromClause = exp
    where: list[ColumnElement[bool]] = [exp.c.lifecycle_stage.in_(list(lifecycle_stages))]
    for n, f in enumerate(filters):
        if f.kind == ATTRIBUTE:
            where.append(compare(exp.c[f.key], f.op, f.value, dialect_name))
        elif f.kind == TAG and f.op in ("IS NULL", "IS NOT NULL"):
            present = exists().where(experiment_tags.c.experiment_id == exp.c.experiment_id,
                                     experiment_tags.c.key == f.key)
            where.append(present if f.op == "IS NOT NULL" else ~present)
        elif f.kind == TAG:
            row = experiment_tags.alias(f"f{n}")
            source = source.join(row, and_(
                row.c.experiment_id == exp.c.experiment_id, row.c.key == f.key,
                compare(row.c.value, f.op, f.value, dialect_name)))
        else:
            raise ValueError(f"experiments cannot be filtered on {f.kind} fields")

    keys = order_by or [OrderKey(ATTRIBUTE, "creation_time", False), OrderKey(ATTRIBUTE, "experiment_id", True)]
    clauses = [exp.c[o.key].asc() if o.ascending else exp.c[o.key].desc() for o in keys]
    if not any(o.key == "experiment_id" for o in keys):
        clauses.append(exp.c.experiment_id.desc())
    return (
        select(exp).select_from(source).where(*where)
        .order_by(*clauses).limit(limit).offset(offset)
    )

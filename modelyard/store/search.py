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

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, or_, select, true
from sqlalchemy.sql.expression import FromClause

from ..query import (
    ATTRIBUTE, DATASET, DATASET_CONTEXT_TAG, METRIC, PARAM, TAG, Comparison, OrderKey,
)
from .schema import datasets, experiment_tags, experiments, input_tags, inputs, latest_metrics, params, runs, tags

__all__ = ["experiment_search_select", "run_search_select"]

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


def _compare(column: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
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


def _metric_value_filter(column: Any, is_nan: Any, op: str, value: float, dialect: str) -> ColumnElement[bool]:
    # NaN is stored as 0 with is_nan: it must satisfy "!=" and nothing else.
    if op == "!=":
        return or_(column != value, is_nan == true())
    return and_(_compare(column, op, value, dialect), is_nan == false())


def _dataset_exists(f: Comparison, dialect: str) -> ColumnElement[bool]:
    if f.key == "context":
        return exists().where(
            inputs.c.run_id == runs.c.id,
            input_tags.c.input_id == inputs.c.id,
            input_tags.c.name == DATASET_CONTEXT_TAG,
            _compare(input_tags.c.value, f.op, f.value, dialect),
        )
    return exists().where(
        inputs.c.run_id == runs.c.id,
        datasets.c.id == inputs.c.dataset_id,
        _compare(datasets.c[f.key], f.op, f.value, dialect),
    )


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
    """
    source: FromClause = runs
    where: list[ColumnElement[bool]] = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(list(lifecycle_stages)),
    ]
    # Inner-joined rows, by (kind, key): an ORDER BY on the same key reads them.
    joined: dict[tuple[str, str], Any] = {}
    for n, f in enumerate(filters):
        if f.kind == ATTRIBUTE:
            where.append(_compare(_RUN_COLUMNS[f.key], f.op, f.value, dialect_name))
        elif f.kind == DATASET:
            where.append(_dataset_exists(f, dialect_name))
        elif f.op in ("IS NULL", "IS NOT NULL"):
            table = _KEY_VALUE_TABLES[f.kind]
            present = exists().where(table.c.run_id == runs.c.id, table.c.key == f.key)
            where.append(present if f.op == "IS NOT NULL" else ~present)
        else:
            row = _KEY_VALUE_TABLES[f.kind].alias(f"f{n}")
            if f.kind == METRIC:
                passes = _metric_value_filter(row.c.value, row.c.is_nan, f.op, float(f.value), dialect_name)  # type: ignore[arg-type]
            else:
                passes = _compare(row.c.value, f.op, f.value, dialect_name)
            source = source.join(row, and_(row.c.run_id == runs.c.id, row.c.key == f.key, passes))
            joined.setdefault((f.kind, f.key), row)

    clauses: list[Any] = []
    for n, o in enumerate(order_by):
        if o.kind == ATTRIBUTE:
            value = _RUN_COLUMNS[o.key]
            missing_rank: Any = case((value.is_(None), 1), else_=0) if value.nullable else None
        elif o.kind in _KEY_VALUE_TABLES:
            row = joined.get((o.kind, o.key))
            if row is None:
                row = _KEY_VALUE_TABLES[o.kind].alias(f"o{n}")
                source = source.outerjoin(row, and_(row.c.run_id == runs.c.id, row.c.key == o.key))
            value = row.c.value
            if o.kind == METRIC:
                missing_rank = case((row.c.is_nan == true(), 1), (value.is_(None), 2), else_=0)
            else:
                missing_rank = case((value.is_(None), 1), else_=0)
        else:
            raise ValueError(f"runs cannot be ordered by {o.kind} fields")
        if missing_rank is not None:
            clauses.append(missing_rank)
        clauses.append(value.asc() if o.ascending else value.desc())
    if not any(o.kind == ATTRIBUTE and o.key == "start_time" for o in order_by):
        clauses.append(runs.c.start_time.desc())
    clauses.append(runs.c.run_uuid.asc())

    return (
        select(runs).select_from(source).where(*where)
        .order_by(*clauses).limit(limit).offset(offset)
    )


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
            where.append(_compare(exp.c[f.key], f.op, f.value, dialect_name))
        elif f.kind == TAG and f.op in ("IS NULL", "IS NOT NULL"):
            present = exists().where(experiment_tags.c.experiment_id == exp.c.experiment_id,
                                     experiment_tags.c.key == f.key)
            where.append(present if f.op == "IS NOT NULL" else ~present)
        elif f.kind == TAG:
            row = experiment_tags.alias(f"f{n}")
            source = source.join(row, and_(
                row.c.experiment_id == exp.c.experiment_id, row.c.key == f.key,
                _compare(row.c.value, f.op, f.value, dialect_name)))
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

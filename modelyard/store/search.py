"""SQL for searching runs and experiments, from a parsed search (``modelyard.entities.query``).

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

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FromClause, Join

from ..entities.query import (
    ATTRIBUTE,
    DATASET,
    DATASET_CONTEXT_TAG,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
)
from .schema import datasets, experiment_tags, experiments, input_tags, inputs, latest_metrics, params, runs, tags
from .visibility import Visibility, readable

__all__ = ["compare", "experiment_search_select", "metric_value_filter", "run_search_select", "run_search_sql"]

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


Bind = Callable[[str, Any], Any]


def _plain(_name: str, value: Any) -> Any:
    return value


def bound_value(op: str, value: Any, dialect: str) -> Any:
    """The value ``compare`` binds for ``op``: LIKE patterns translated for ``dialect``."""
    if op in ("LIKE", "ILIKE"):
        return _glob_pattern(value, op == "ILIKE") if dialect == "sqlite" else _postgres_pattern(value)
    return value


def compare(column: Any, op: str, value: Any, dialect: str, bind: Bind = _plain, name: str = "") -> ColumnElement[bool]:
    """``column <op> value`` with every value bound as a parameter.

    ``bind(name, value)`` may wrap the bound value (a named ``bindparam``); list
    items get the names ``{name}_0``, ``{name}_1``...
    """
    value = bound_value(op, value, dialect)
    if op in ("LIKE", "ILIKE"):
        if dialect == "sqlite":
            return column.op("GLOB")(bind(name, value))  # type: ignore[no-any-return]
        pattern = bind(name, value)
        return column.like(pattern) if op == "LIKE" else column.ilike(pattern)  # type: ignore[no-any-return]
    if op in ("IN", "NOT IN"):
        items = list(value)
        if bind is not _plain:
            items = [bind(f"{name}_{i}", v) for i, v in enumerate(items)]
        return column.in_(items) if op == "IN" else column.not_in(items)  # type: ignore[no-any-return]
    value = bind(name, value)
    binary = {
        "=": column.__eq__, "!=": column.__ne__, "<": column.__lt__,
        "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__,
    }
    if op not in binary:
        raise ValueError(f"unsupported comparison operator {op!r}")
    return binary[op](value)  # type: ignore[no-any-return]


def metric_value_filter(
    column: Any, is_nan: Any, op: str, value: float, dialect: str, bind: Bind = _plain, name: str = ""
) -> ColumnElement[bool]:
    """``column <op> value`` for a metric stored as a value plus an ``is_nan`` flag."""
    # NaN is stored as 0 with is_nan: it must satisfy "!=" and nothing else.
    if op == "!=":
        return or_(column != bind(name, value), is_nan == true())
    return and_(compare(column, op, value, dialect, bind, name), is_nan == false())


def _dataset_exists(f: Comparison, dialect: str, bind: Bind, name: str, run_pk: Any) -> ColumnElement[bool]:
    if f.key == "context":
        return exists().where(
            inputs.c.run_id == run_pk,
            input_tags.c.input_id == inputs.c.id,
            input_tags.c.name == DATASET_CONTEXT_TAG,
            compare(input_tags.c.value, f.op, f.value, dialect, bind, name),
        )
    return exists().where(
        inputs.c.run_id == run_pk,
        datasets.c.id == inputs.c.dataset_id,
        compare(datasets.c[f.key], f.op, f.value, dialect, bind, name),
    )


def _filter_condition(
    f: Comparison, dialect: str, bind: Bind = _plain, name: str = "", run_pk: Any = runs.c.id
) -> ColumnElement[bool]:
    """One filter as a WHERE term on ``runs``: a column test or a correlated EXISTS.

    The EXISTS terms match their rows on ``run_pk``: ``runs.id`` or a column equal to it in the
    query (a walked index row's ``run_id``), which lets SQLite test them before it reads the run.
    """
    if f.kind == ATTRIBUTE:
        return compare(_RUN_COLUMNS[f.key], f.op, f.value, dialect, bind, name)
    if f.kind == DATASET:
        return _dataset_exists(f, dialect, bind, name, run_pk)
    table = _KEY_VALUE_TABLES[f.kind]
    row = [table.c.run_id == run_pk, table.c.key == f.key]
    if f.op in ("IS NULL", "IS NOT NULL"):
        present = exists().where(*row)
        return present if f.op == "IS NOT NULL" else ~present
    if f.kind == METRIC:
        passes = metric_value_filter(table.c.value, table.c.is_nan, f.op, float(f.value), dialect, bind, name)  # type: ignore[arg-type]
    else:
        passes = compare(table.c.value, f.op, f.value, dialect, bind, name)
    return exists().where(*row, passes)


_INDEXED_RUN_COLUMNS = frozenset({"start_time"})
"""Run columns the experiments' runs can be read in order of through an index: a page sorted by
one of them reads the runs that have a value in index order and stops at the page's end."""


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
    return _run_search(experiment_ids, lifecycle_stages, filters, order_by, limit, offset, dialect_name, _plain)


def _run_search(
    experiment_ids: list[int],
    lifecycle_stages: tuple[str, ...],
    filters: list[Comparison],
    order_by: list[OrderKey],
    limit: int,
    offset: int,
    dialect_name: str,
    bind: Bind,
    walk_sort_index: bool = False,
    single_pass: bool = False,
) -> Select[Any]:
    experiments = [bind(f"e{i}", e) for i, e in enumerate(experiment_ids)]

    def on_run(run_pk: Any) -> list[ColumnElement[bool]]:
        return [_filter_condition(f, dialect_name, bind, f"f{n}", run_pk) for n, f in enumerate(filters)]
    conditions = on_run(runs.c.id)
    where = [runs.c.lifecycle_stage.in_(list(lifecycle_stages)), *conditions]
    in_experiments = runs.c.experiment_id.in_(experiments)
    first = order_by[0] if order_by else None
    walk = walk_sort_index and len(order_by) == 1 and first is not None and first.kind in (METRIC, PARAM)
    # Without the index walk the database reads the experiments' runs and sorts them whatever the
    # shape: one pass with the rank as a sort term, not one pass per rank (3 when rank 0 comes up short).
    # An indexed run column (start_time: ix_runs_experiment_start) is read in index order too.
    indexed = first is not None and first.kind == ATTRIBUTE and first.key in _INDEXED_RUN_COLUMNS
    segments = _segments(order_by[0]) if order_by and (walk or indexed or not single_pass) else None
    if segments is None:
        source, terms = _sort_terms(order_by, runs, 0)
        return (select(runs).select_from(source).where(in_experiments, *where).order_by(*_ordered(terms))
                .limit(bind("lim", limit)).offset(bind("off", offset)))

    assert first is not None
    need = bind("need", offset + limit)
    # With filters that can start the search, the walk runs only if none of them is selective (see _plan).
    # SQLite only: on PostgreSQL the counts cost ~1 us an entry (heap visibility checks) and the extra
    # branches lift the plan's cost past jit_above_cost, so JIT compiles every search (~70 ms).
    drivers = index_listed_filters(filters) if walk and dialect_name == "sqlite" else []
    pick = select(_plan(drivers, bind, need).c.pick).scalar_subquery() if drivers else None
    walking: Any = None if pick is None else pick == 0
    value_type = segments[0][2].type
    branches: list[Any] = []
    for rank, (base, extra, value) in enumerate(segments):
        source, terms = _sort_terms(order_by[1:], base, 1)
        labelled = [t.label(f"t{i}") for i, (t, _) in enumerate(terms) if not _is_run_column(t)]
        if rank == 0 and walk:
            cut = need if walking is None else case((walking, need), else_=0)
            if dialect_name == "sqlite":
                walked = _walked_sqlite(first, lambda pk: [in_experiments, where[0], *on_run(pk)], cut)
            else:
                walked = _walked(first, [in_experiments, *where], cut)
            branches.append(walked.cte("rank0"))
            continue
        branch = (
            select(runs, literal(rank).label("rank"),
                   (value if value is not None else cast(null(), value_type)).label("v0"), *labelled)
            .select_from(source).where(in_experiments, *extra, *where)
            .order_by(*_ordered(([(value, first.ascending)] if value is not None else []) + terms))
        )
        if branches:
            # A later rank is read only if the earlier ones came up short. The
            # guard sits in LIMIT, which both databases evaluate once, first.
            filled = sum((select(func.count()).select_from(b).scalar_subquery() for b in branches), literal(0))
            short = filled < need if walking is None else and_(walking, filled < need)
            branch = branch.limit(case((short, need - filled), else_=0))
        else:
            branch = branch.limit(need)
        branches.append(branch.cte(f"rank{rank}"))
    for i, (n, f) in enumerate(drivers, start=1):
        assert pick is not None  # drivers is not empty
        def others(pk: Any, n: int = n, f: Comparison = f) -> list[ColumnElement[bool]]:
            return [in_experiments, where[0], *(c for m, c in enumerate(on_run(pk)) if m != n or f.kind == ATTRIBUTE)]
        driven = _driven(f, order_by, others, dialect_name, bind, f"f{n}")
        branches.append(driven.limit(case((pick == i, need), else_=0)).cte(f"driven{i}"))
    page = union_all(*(select(b) for b in branches)).subquery("page")
    outer = [(page.c.rank, True), (page.c.v0, first.ascending)] + [
        (page.c[t.name] if _is_run_column(t) else page.c[f"t{i}"], asc) for i, (t, asc) in enumerate(terms)
    ]
    return (select(*(page.c[c.name] for c in runs.c)).order_by(*_ordered(outer))
            .limit(bind("lim", limit)).offset(bind("off", offset)))


PROBE_LIMIT = 20_000
"""How many runs a filter's probe counts at most (see :func:`_plan`); ``run_search_sql(probe=...)``."""
_MAX_DRIVERS = 3
_DRIVER_OPS = {ATTRIBUTE: ("=", "IN"), PARAM: ("=",), METRIC: ("=", "<", "<=", ">", ">=")}


def index_listed_filters(filters: Sequence[Comparison]) -> list[tuple[int, Comparison]]:
    """The filters (with their index) whose runs an index lists: ``run_id`` first, then params (``=``) and
    metrics (``=``, ``<``...) on their (key, value) index; at most ``_MAX_DRIVERS``. Tags have no such index."""
    found = [(n, f) for n, f in enumerate(filters)
             if f.op in _DRIVER_OPS.get(f.kind, ()) and (f.kind != ATTRIBUTE or f.key == "run_id")]
    found.sort(key=lambda nf: nf[1].kind != ATTRIBUTE)
    return found[:_MAX_DRIVERS]


def _driver_rows(f: Comparison, bind: Bind, name: str, exact: bool = True) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """The table whose index lists the runs passing ``f``, and the conditions that select them.

    Not ``exact``: a metric's NaN rows (value 0) may pass too, so the index alone answers (is_nan is
    not in it): a count that errs high only keeps the walk.
    """
    if f.kind == ATTRIBUTE:
        return runs, [compare(_RUN_COLUMNS[f.key], f.op, f.value, "", bind, name)]
    row = _KEY_VALUE_TABLES[f.kind].alias("d")
    if f.kind == METRIC and exact:
        passes = metric_value_filter(row.c.value, row.c.is_nan, f.op, float(f.value), "", bind, name)  # type: ignore[arg-type]
    else:
        passes = compare(row.c.value, f.op, f.value, "", bind, name)
    return row, [row.c.key == f.key, passes]


def _plan(drivers: list[tuple[int, Comparison]], bind: Bind, need: Any) -> Any:
    """A one-row CTE: ``pick`` is 0 to walk the sort key's index, or i to start from the i-th driver.

    Walking finds a page after about ``need * N / hits`` index rows (N: all runs); starting from a
    driver costs its ``hits`` rows and their sort. So the least-hit driver is picked when
    ``hits * hits < need * N``: below 10,000 hits for a 1,000-run page of 100,000 runs. Each
    driver's hits are counted through its index only up to ``bar``: one integer Newton step from
    ``guess`` (bound per call) towards sqrt(need * N), never below it, so the count reads enough to
    decide and little more; at most ``probe``. The CTEs are MATERIALIZED so each count runs once
    per query, whatever the number of guards that read the pick.
    """
    guess, probe = cast(bind("guess", 1024), BigInteger), cast(bind("probe", PROBE_LIMIT), BigInteger)
    total = cast(select(func.coalesce(func.max(runs.c.id), 0)).scalar_subquery(), BigInteger)
    # integer division on both databases (SQLAlchemy's "/" would divide as floats)
    newton = (guess + (cast(need, BigInteger) * total).op("/")(guess)).self_group().op("/")(literal(2)) + 1
    sized = select(total.label("n"), case((newton < probe, newton), else_=probe).label("bar"))
    sized_cte = sized.cte("probe_bar").prefix_with("MATERIALIZED")
    bar = select(sized_cte.c.bar).scalar_subquery()
    counts = []
    for i, (n, f) in enumerate(drivers, start=1):
        table, where = _driver_rows(f, bind, f"f{n}", exact=False)
        hits = select(literal(1)).select_from(table).where(*where).limit(bar).subquery(f"hits{i}")
        counts.append(select(func.count()).select_from(hits).scalar_subquery().label(f"c{i}"))
    probed = select(*counts, sized_cte.c.n, sized_cte.c.bar).select_from(sized_cte).cte("probe_counts")
    probed = probed.prefix_with("MATERIALIZED")
    c = [probed.c[f"c{i}"] for i in range(1, len(drivers) + 1)]
    few = cast(need, BigInteger) * probed.c.n
    whens = [(and_(*(ci <= cj for cj in c[i + 1:]), ci < probed.c.bar, ci * ci < few), i + 1) for i, ci in enumerate(c)]
    return select(case(*whens, else_=0).label("pick")).select_from(probed).cte("probe_plan").prefix_with("MATERIALIZED")


def _driven(
    f: Comparison, order_by: list[OrderKey], where: Callable[[Any], list[Any]], dialect: str, bind: Bind, name: str
) -> Select[Any]:
    """The search read from the runs one filter lists through its index, every rank in one sorted pass.

    On SQLite the driver's rows ``CROSS JOIN`` runs, so the driver's index stays the outer loop;
    ``where(run_pk)`` gives the other conditions, matched on the driver row's ``run_id`` so that
    SQLite tests them before it reads the run.
    """
    table, conditions = _driver_rows(f, bind, name)
    base: FromClause = runs if table is runs else _CrossJoin(table, runs, runs.c.id == table.c.run_id)
    source, terms = _sort_terms(order_by, base, 0)
    return (select(runs, terms[0][0].label("rank"), terms[1][0].label("v0")).select_from(source)
            .where(*where(runs.c.id if table is runs else table.c.run_id), *conditions).order_by(*_ordered(terms)))


_DIALECTS = {"sqlite": sqlite.dialect(paramstyle="qmark"), "postgresql": postgresql.psycopg.dialect(paramstyle="format")}  # type: ignore[no-untyped-call]
_COMPILED: dict[tuple[Any, ...], tuple[str, list[tuple[str, Any]]]] = {}
_MAX_COMPILED = 512


def _named(name: str, value: Any) -> Any:
    return bindparam(name, value)


def run_search_sql(
    experiment_ids: list[int],
    lifecycle_stages: tuple[str, ...],
    filters: list[Comparison],
    order_by: list[OrderKey],
    limit: int,
    offset: int,
    dialect_name: str,
    walk_sort_index: bool = False,
    probe: int = PROBE_LIMIT,
) -> tuple[str, list[Any]]:
    """:func:`run_search_select` as SQL text and positional parameters for a DB-API cursor.

    The text is compiled once per shape (dialect, number of experiments,
    stages, filters without their values, order) and cached; every value
    (experiment ids, compared values, limit and offset) is a named parameter
    filled in per call.

    Unlike :func:`run_search_select`, a search that does not walk an index is
    one pass over the experiments' runs with the rank (value, NaN, missing)
    as the first sort term: the per-rank branches pay off only when rank 0 is
    read in index order and stops early, and otherwise cost a pass each.

    ``walk_sort_index`` asks the database to read runs in the order of the first
    sort key's index and stop once the page is full, instead of reading the
    experiments' runs and sorting them: much faster when the experiments hold
    most of the runs that have the key, much slower for a small experiment.
    The walk also reads the whole index when few runs pass the filters. On
    SQLite, when a filter can list its runs through an index (``run_id`` with
    ``=`` or ``IN``, a param with ``=``, a metric with ``=``, ``<``...), the
    query first counts them, up to about sqrt(need * runs) and at most
    ``probe``, and starts from the least-hit filter when its hits are few (see
    :func:`_plan`; ``probe=0`` always walks). Same runs, same order either way.
    """
    shape = (
        dialect_name, len(experiment_ids), tuple(lifecycle_stages),
        tuple((f.kind, f.key, f.op, len(f.value) if isinstance(f.value, tuple) else None) for f in filters),
        tuple(order_by), walk_sort_index,
    )
    # The first guess at sqrt(need * runs) for _plan's Newton step: right for a 1,000-run page of
    # 100,000 runs; one step from it stays within about 2x of it for 10 times fewer or more runs.
    values: dict[str, Any] = {
        "lim": limit, "off": offset, "need": offset + limit, "probe": probe, "guess": 8 * (offset + limit) + 1024,
    }
    values.update((f"e{i}", e) for i, e in enumerate(experiment_ids))
    for n, f in enumerate(filters):
        if f.value is None:
            continue
        value = float(f.value) if f.kind == METRIC else bound_value(f.op, f.value, dialect_name)  # type: ignore[arg-type]
        if isinstance(value, tuple):
            values.update((f"f{n}_{i}", v) for i, v in enumerate(value))
        else:
            values[f"f{n}"] = value
    found = _COMPILED.get(shape)
    if found is None:
        stmt = _run_search(
            experiment_ids, lifecycle_stages, filters, order_by, limit, offset, dialect_name, _named, walk_sort_index,
            single_pass=True,
        )
        compiled = stmt.compile(dialect=_DIALECTS[dialect_name], compile_kwargs={"render_postcompile": True})
        defaults = compiled.construct_params()
        found = (compiled.string, [(name, defaults[name]) for name in compiled.positiontup or ()])
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[shape] = found
    sql, slots = found
    return sql, [values.get(name, default) for name, default in slots]


def _walked(key: OrderKey, conditions: list[ColumnElement[bool]], need: Any) -> Select[Any]:
    """Rank 0 of a search ordered by one metric or param, read in the order of its (key, value) index.

    Only the key's rows are in FROM; the run's conditions are one correlated
    scalar subquery per row, which no database turns into a join, so the plan
    is an ordered index walk that stops after ``need`` matches. Used on
    PostgreSQL; SQLite has :func:`_walked_sqlite`.
    """
    row = _KEY_VALUE_TABLES[key.kind].alias("w")
    match = select(literal(1)).select_from(runs).where(runs.c.id == row.c.run_id, *conditions).limit(1)
    start_time = select(runs.c.start_time).where(runs.c.id == row.c.run_id).scalar_subquery()
    run_uuid = select(runs.c.run_uuid).where(runs.c.id == row.c.run_id).scalar_subquery()
    has_value = row.c.is_nan == false() if key.kind == METRIC else row.c.value.is_not(None)
    picked = (
        select(row.c.run_id, row.c.value)
        .where(row.c.key == key.key, has_value, match.scalar_subquery().is_not(None))
        .order_by(*_ordered([(row.c.value, key.ascending), (start_time, False), (run_uuid, True)]))
        .limit(need)
        .subquery("walk")
    )
    return select(runs, literal(0).label("rank"), picked.c.value.label("v0")).select_from(
        picked.join(runs, runs.c.id == picked.c.run_id)
    )


class _CrossJoin(Join):
    """An inner join that SQLite reads left table first (``CROSS JOIN``); plain ``JOIN`` elsewhere."""

    inherit_cache = True


@compiles(_CrossJoin, "sqlite")
def _compile_cross_join(join: _CrossJoin, compiler: Any, **kw: Any) -> str:
    return compiler.visit_join(join, **kw).replace(" JOIN ", " CROSS JOIN ", 1)  # type: ignore[no-any-return]


def _walked_sqlite(key: OrderKey, conditions: Callable[[Any], list[ColumnElement[bool]]], need: Any) -> Select[Any]:
    """:func:`_walked` for SQLite: the key's rows ``CROSS JOIN`` runs, so SQLite keeps the key's
    (key, value) index as the outer loop and stops after ``need`` matches.

    SQLite never reorders the tables of a ``CROSS JOIN``; the run's conditions are then plain
    WHERE terms on the joined row, with no correlated subquery per key row (whole search
    query 35 vs 39 ms CPU per 1,000-run page of a 100,000-run experiment). ``conditions(run_pk)``
    match the filters' rows on the key row's ``run_id``, so SQLite tests them on the index
    entry and reads the run only for those that pass (for the standard filter, one walked
    entry in six). A metric's NaN rows are found without leaving the index where it can: they
    hold value 0, so ``is_nan`` is read only for the entries whose value is 0.
    """
    row = _KEY_VALUE_TABLES[key.kind].alias("w")
    if key.kind == METRIC:
        nan = _KEY_VALUE_TABLES[key.kind].alias("n")
        flag = select(nan.c.is_nan).where(nan.c.run_id == row.c.run_id, nan.c.key == row.c.key).scalar_subquery()
        has_value = or_(row.c.value != literal_column("0"), flag == false())
    else:
        has_value = row.c.value.is_not(None)
    return (
        select(runs, literal(0).label("rank"), row.c.value.label("v0"))
        .select_from(_CrossJoin(row, runs, runs.c.id == row.c.run_id))
        .where(row.c.key == key.key, has_value, *conditions(row.c.run_id))
        .order_by(*_ordered([(row.c.value, key.ascending), (runs.c.start_time, False), (runs.c.run_uuid, True)]))
        .limit(need)
    )


def _is_run_column(expr: Any) -> bool:
    return getattr(expr, "table", None) is runs


def experiment_search_select(
    lifecycle_stages: tuple[str, ...],
    filters: list[Comparison],
    order_by: list[OrderKey],
    limit: int,
    offset: int,
    dialect_name: str,
    visible: Visibility | None = None,
    workspace: str | None = None,
) -> Select[Any]:
    """The page of experiments (all ``experiments`` columns) that match, in MLflow's order, among those
    ``visible`` (a caller's, :mod:`.visibility`) may read.

    No ``order_by`` means ``creation_time DESC, experiment_id ASC``; otherwise
    ``experiment_id DESC`` breaks ties unless ordered on already (as MLflow).
    """
    exp = experiments
    source: FromClause = exp
    where: list[ColumnElement[bool]] = [exp.c.lifecycle_stage.in_(list(lifecycle_stages))]
    if workspace is not None:
        where.append(exp.c.workspace == workspace)
    if visible is not None:
        where.append(readable(visible, "experiment", exp.c.experiment_id, exp.c.workspace))
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

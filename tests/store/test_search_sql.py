"""Run and experiment search SQL on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import Engine, func, insert, select

from modelyard.entities.query import Comparison, OrderKey
from modelyard.service.search import (
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)
from modelyard.store import schema
from modelyard.store.engine import make_engine
from modelyard.store.search import PROBE_LIMIT, experiment_search_select, run_search_select, run_search_sql

NAN = float("nan")
# uuid: (experiment, stage, name, user, status, start, end, artifact_uri, params, metrics, tags, inputs)
RUNS = {
    "a1": (1, "active", "alpha", "ann", "FINISHED", 1000, 2000, "s3://bucket/a1",
           {"lr": "0.1", "opt": "Adam"}, {"acc": 0.9, "loss": 0.5}, {"team": "vision", "note": "Ünïcode"},
           [("mnist", "d1", "training")]),
    "b2": (1, "active", "beta", "bob", "RUNNING", 2000, None, "s3://bucket/b2",
           {"lr": "0.01", "opt": "adam"}, {"acc": NAN, "loss": 0.3}, {"team": "Vision"},
           [("cifar", "d2", "eval")]),
    "c3": (1, "active", "gamma_1", "ann", "FAILED", 3000, 3500, "file:///c3",
           {"lr": "0.1"}, {"loss": 0.7}, {}, []),
    "d4": (1, "active", "d[4]*?%", "cat", "FINISHED", 4000, 4100, "s3://bucket/d4",
           {"opt": "SGD"}, {"acc": 0.5}, {"team": "nlp"}, [("mnist", "d1", "eval"), ("imdb", "d3", None)]),
    "e5": (2, "deleted", "old", "ann", "FINISHED", 5000, 5100, "s3://bucket/e5",
           {"lr": "0.1"}, {"acc": 1.0}, {}, []),
}


def _seed(engine: Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(schema.experiments), [
            {"experiment_id": 1, "name": "exp-one", "artifact_location": "x", "lifecycle_stage": "active",
             "creation_time": 100, "last_update_time": 150},
            {"experiment_id": 2, "name": "Exp-Two", "artifact_location": "x", "lifecycle_stage": "active",
             "creation_time": 200, "last_update_time": 250},
            {"experiment_id": 3, "name": "gone", "artifact_location": "x", "lifecycle_stage": "deleted",
             "creation_time": 300, "last_update_time": 350},
            {"experiment_id": 4, "name": "exp_four", "artifact_location": "x", "lifecycle_stage": "active",
             "creation_time": 200, "last_update_time": 400},
        ])
        conn.execute(insert(schema.experiment_tags), [
            {"experiment_id": 1, "key": "owner", "value": "ann"},
            {"experiment_id": 2, "key": "owner", "value": "Bob"},
        ])
        dataset_ids: dict[tuple[str, str], int] = {}
        for n, (uuid, r) in enumerate(RUNS.items(), start=1):
            exp, stage, name, user, status, start, end, uri, ps, ms, ts, ins = r
            conn.execute(insert(schema.runs).values(
                id=n, run_uuid=uuid, name=name, experiment_id=exp, user_id=user, status=status,
                start_time=start, end_time=end, artifact_uri=uri, lifecycle_stage=stage))
            for k, v in ps.items():
                conn.execute(insert(schema.params).values(run_id=n, key=k, value=v))
            for k, v in ts.items():
                conn.execute(insert(schema.tags).values(run_id=n, key=k, value=v))
            for k, v in ms.items():
                conn.execute(insert(schema.latest_metrics).values(
                    run_id=n, key=k, value=0.0 if math.isnan(v) else v, is_nan=math.isnan(v), timestamp=1, step=0))
            for ds_name, digest, context in ins:
                if (ds_name, digest) not in dataset_ids:
                    dataset_ids[(ds_name, digest)] = conn.execute(insert(schema.datasets).values(
                        dataset_uuid=f"{ds_name}-{digest}", experiment_id=exp, name=ds_name, digest=digest,
                        source_type="local", source="/data").returning(schema.datasets.c.id)).scalar_one()
                input_id = conn.execute(insert(schema.inputs).values(
                    input_uuid=f"{uuid}-{ds_name}", dataset_id=dataset_ids[(ds_name, digest)], run_id=n,
                ).returning(schema.inputs.c.id)).scalar_one()
                if context:
                    conn.execute(insert(schema.input_tags).values(
                        input_id=input_id, name="mlflow.data.context", value=context))


@pytest.fixture
def engine(db_uri: str):
    engine = make_engine(db_uri)
    _seed(engine)
    yield engine
    engine.dispose()


def search(engine: Engine, filter_string: str | None = None, order_by: list[str] | None = None, *,
           limit: int = 100, offset: int = 0, stages: tuple[str, ...] = ("active",),
           experiments: tuple[int, ...] = (1, 2)) -> list[str]:
    stmt = run_search_select(list(experiments), stages, parse_run_filter(filter_string),
                             parse_run_order_by(order_by), limit, offset, engine.dialect.name)
    with engine.connect() as conn:
        return [row.run_uuid for row in conn.execute(stmt)]


def search_sql(engine: Engine, filter_string: str | None = None, order_by: list[str] | None = None, *,
               limit: int = 100, offset: int = 0, walk: bool = False,
               experiments: tuple[int, ...] = (1, 2)) -> list[str]:
    """The same search through the cached positional SQL text, on the bare DB-API cursor."""
    sql, params = run_search_sql(list(experiments), ("active",), parse_run_filter(filter_string),
                                 parse_run_order_by(order_by), limit, offset, engine.dialect.name,
                                 walk_sort_index=walk)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, params)
        return [row[1] for row in cur.fetchall()]
    finally:
        raw.close()


# Default order is start_time DESC: d4, c3, b2, a1.
FILTER_CASES = [
    # metrics: numeric, latest value, NaN passes only "!=", a missing key never passes
    ("metrics.acc > 0.6", ["a1"]),
    ("metrics.acc >= 0.5", ["d4", "a1"]),
    ("metrics.acc < 1", ["d4", "a1"]),
    ("metrics.acc <= 0.5", ["d4"]),
    ("metrics.acc = 0", []),
    ("metrics.acc = 0.9", ["a1"]),
    ("metrics.acc != 0.9", ["d4", "b2"]),
    ("metrics.acc > -1 AND metrics.loss < 0.6", ["a1"]),
    ("metrics.acc < 1e400", ["d4", "a1"]),
    # params and tags: strings; != does not match runs lacking the key
    ("params.lr = '0.1'", ["c3", "a1"]),
    ("params.lr != '0.1'", ["b2"]),
    ("params.opt LIKE 'A%'", ["a1"]),
    ("params.opt ILIKE 'a%'", ["b2", "a1"]),
    ("params.opt LIKE '%dam'", ["b2", "a1"]),
    ("params.opt LIKE 'adam'", ["b2"]),
    ("params.opt ILIKE 'ADAM'", ["b2", "a1"]),
    ("params.opt LIKE '_GD'", ["d4"]),
    ("params.lr IS NULL", ["d4"]),
    ("params.lr IS NOT NULL", ["c3", "b2", "a1"]),
    ("tags.team = 'vision'", ["a1"]),
    ("tags.team ILIKE 'VISION'", ["b2", "a1"]),
    ("tags.team IS NULL", ["c3"]),
    ("tags.team IS NOT NULL AND tags.team != 'nlp'", ["b2", "a1"]),
    ("tags.note ILIKE 'üNÏ%'", ["a1"]),
    ("tags.note LIKE 'üNÏ%'", []),
    # attributes
    ("attributes.run_id IN ('a1', 'c3', 'zz')", ["c3", "a1"]),
    ("run_id NOT IN ('a1', 'c3')", ["d4", "b2"]),
    ("attributes.run_id = 'b2'", ["b2"]),
    ("attributes.run_name = 'alpha'", ["a1"]),
    ("`Run name` LIKE 'gamma_1'", ["c3"]),
    ("run_name LIKE 'gamma\\_1'", ["c3"]),
    ("run_name LIKE 'gamma\\_'", []),
    ("run_name LIKE 'd[4]*?\\%'", ["d4"]),
    ("run_name LIKE 'd[4]%'", ["d4"]),
    ("run_name LIKE 'd4%'", []),
    ("run_name ILIKE 'ALPHA'", ["a1"]),
    ("run_name LIKE 'ALPHA'", []),
    ("attributes.status = 'FINISHED'", ["d4", "a1"]),
    ("status != 'FINISHED'", ["c3", "b2"]),
    ("attributes.user_id = 'ann'", ["c3", "a1"]),
    ("attributes.artifact_uri ILIKE 'S3://%'", ["d4", "b2", "a1"]),
    ("attributes.start_time >= 3000", ["d4", "c3"]),
    ("created < 2000", ["a1"]),
    ("attributes.end_time < 3600", ["c3", "a1"]),
    ("attributes.end_time != 2000", ["d4", "c3"]),
    # datasets: a run matches if any of its inputs does
    ("datasets.name = 'mnist'", ["d4", "a1"]),
    ("datasets.name != 'mnist'", ["d4", "b2"]),
    ("datasets.name IN ('cifar', 'imdb')", ["d4", "b2"]),
    ("datasets.name NOT IN ('mnist')", ["d4", "b2"]),
    ("datasets.digest LIKE 'd_'", ["d4", "b2", "a1"]),
    ("datasets.context = 'eval'", ["d4", "b2"]),
    ("datasets.context ILIKE 'TRAIN%'", ["a1"]),
    ("datasets.name = 'mnist' AND datasets.context = 'training'", ["a1"]),
    # values are bound parameters: SQL in a value is just text
    ("params.opt = 'x''; DROP TABLE runs; --'", []),
]


def test_filters(engine: Engine) -> None:
    # One database per backend for the whole table: creating PostgreSQL databases is slow.
    wrong = {f: (got, want) for f, want in FILTER_CASES if (got := search(engine, f)) != want}
    assert not wrong, f"(got, expected) by filter: {wrong}"


def test_injection_text_leaves_tables_intact(engine: Engine) -> None:
    assert search(engine, "params.opt = \"Adam'); DELETE FROM runs; --\"") == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.runs)).scalar_one() == 5


def test_lifecycle_and_experiments(engine: Engine) -> None:
    assert search(engine, stages=("deleted",)) == ["e5"]
    assert search(engine, stages=("active", "deleted")) == ["e5", "d4", "c3", "b2", "a1"]
    assert search(engine, experiments=(2,)) == []
    assert search(engine, "params.lr = '0.1'", stages=("active", "deleted"), experiments=(2,)) == ["e5"]


ORDER_CASES = [
    (None, ["d4", "c3", "b2", "a1"]),
    # missing keys last in both directions; NaN metrics just before them
    (["metrics.acc DESC"], ["a1", "d4", "b2", "c3"]),
    (["metrics.acc"], ["d4", "a1", "b2", "c3"]),
    (["metrics.acc ASC"], ["d4", "a1", "b2", "c3"]),
    (["metrics.loss DESC"], ["c3", "a1", "b2", "d4"]),
    (["params.lr ASC"], ["b2", "c3", "a1", "d4"]),
    (["params.lr DESC"], ["c3", "a1", "b2", "d4"]),
    (["tags.team DESC"], ["a1", "d4", "b2", "c3"]),
    (["attributes.end_time ASC"], ["a1", "c3", "d4", "b2"]),
    (["attributes.end_time DESC"], ["d4", "c3", "a1", "b2"]),
    (["attributes.start_time ASC"], ["a1", "b2", "c3", "d4"]),
    (["created DESC"], ["d4", "c3", "b2", "a1"]),
    (["attributes.run_id DESC"], ["d4", "c3", "b2", "a1"]),
    (["attributes.run_name ASC"], ["a1", "b2", "d4", "c3"]),
    (["attributes.status ASC", "metrics.acc DESC"], ["c3", "a1", "d4", "b2"]),
    (["params.lr DESC", "metrics.loss ASC"], ["a1", "c3", "b2", "d4"]),
    (["params.lr DESC", "attributes.start_time ASC"], ["a1", "c3", "b2", "d4"]),
]


def test_order(engine: Engine) -> None:
    wrong = {str(o): (got, want) for o, want in ORDER_CASES if (got := search(engine, order_by=o)) != want}
    assert not wrong, f"(got, expected) by order_by: {wrong}"


def test_filter_and_order(engine: Engine) -> None:
    assert search(engine, "metrics.loss < 1 AND params.lr != 'x'", ["metrics.acc DESC"]) == ["a1", "b2", "c3"]
    assert search(engine, "tags.team ILIKE '%o%'", ["metrics.acc ASC"]) == ["a1", "b2"]


def test_paging_walks_every_run_once(engine: Engine) -> None:
    for order_by in (["metrics.acc DESC"], ["params.lr ASC"], ["attributes.end_time ASC"], None):
        full = search(engine, order_by=order_by)
        for size in (1, 2, 3):
            pages = [search(engine, order_by=order_by, limit=size, offset=o) for o in range(0, 5, size)]
            assert [u for page in pages for u in page] == full, (order_by, size)
        assert search(engine, order_by=order_by, limit=5, offset=3) == full[3:]
        assert search(engine, order_by=order_by, limit=2, offset=10) == []


@pytest.mark.parametrize("walk", [False, True], ids=["experiment-first", "walk-sort-index"])
def test_cached_sql_text_finds_what_the_select_finds(engine: Engine, walk: bool) -> None:
    # Each shape is compiled once; later calls of the same shape bind other values into the cached text.
    for _ in range(2):
        wrong = {f: (got, want) for f, want in FILTER_CASES if (got := search_sql(engine, f, walk=walk)) != want}
        assert wrong == {}
        wrong = {str(o): (got, want) for o, want in ORDER_CASES
                 if (got := search_sql(engine, order_by=o, walk=walk)) != want}
        assert wrong == {}
    assert search_sql(engine, "metrics.loss < 1 AND params.lr != 'x'", ["metrics.acc DESC"], walk=walk) == ["a1", "b2", "c3"]
    assert search_sql(engine, "tags.team ILIKE '%o%'", ["metrics.acc ASC"], walk=walk) == ["a1", "b2"]
    assert search_sql(engine, "params.lr = '0.1'", experiments=(2,), walk=walk) == []
    for order_by in (["metrics.acc DESC"], ["params.lr ASC"], ["metrics.loss ASC"]):
        full = search(engine, order_by=order_by)
        for size in (1, 2, 3):
            pages = [search_sql(engine, order_by=order_by, limit=size, offset=o, walk=walk) for o in range(0, 5, size)]
            assert [u for page in pages for u in page] == full, (order_by, size)


def _reference_order(runs: dict[str, dict], key: str, ascending: bool) -> list[str]:
    """MLflow's order in Python: values, then NaN, then missing; ties by start_time DESC, run_uuid."""
    def sort_key(uuid: str) -> tuple:
        v = runs[uuid]["m"].get(key)
        rank = 2 if v is None else 1 if math.isnan(v) else 0
        value = 0.0 if rank else (v if ascending else -v)
        return (rank, value, -runs[uuid]["start"], uuid)
    return sorted(runs, key=sort_key)


def test_metric_order_matches_reference_at_every_page_boundary(db_uri: str) -> None:
    engine = make_engine(db_uri)
    schema.metadata.create_all(engine)
    rnd = random.Random(7)
    runs: dict[str, dict] = {}
    with engine.begin() as conn:
        conn.execute(insert(schema.experiments).values(experiment_id=1, name="e", artifact_location="x"))
        for n in range(1, 41):
            uuid = f"{rnd.getrandbits(64):016x}"
            start = rnd.choice([10, 20, 30, 40])
            choice = rnd.random()
            value = None if choice < 0.2 else NAN if choice < 0.35 else float(rnd.choice([1, 2, 3, -1.5]))
            runs[uuid] = {"start": start, "m": {} if value is None else {"m": value}}
            conn.execute(insert(schema.runs).values(id=n, run_uuid=uuid, experiment_id=1, status="FINISHED",
                                                     start_time=start, lifecycle_stage="active"))
            if value is not None:
                conn.execute(insert(schema.latest_metrics).values(
                    run_id=n, key="m", value=0.0 if math.isnan(value) else value, is_nan=math.isnan(value),
                    timestamp=0, step=0))
    for ascending in (True, False):
        expected = _reference_order(runs, "m", ascending)
        order = [OrderKey("metric", "m", ascending)]
        with engine.connect() as conn:
            for size in (7, 40, 100):
                got: list[str] = []
                for offset in range(0, 40, size):
                    stmt = run_search_select([1], ("active",), [], order, size, offset, engine.dialect.name)
                    got += [r.run_uuid for r in conn.execute(stmt)]
                assert got == expected
                for walk in (False, True):
                    walked: list[str] = []
                    for offset in range(0, 40, size):
                        sql, params = run_search_sql([1], ("active",), [], order, size, offset, engine.dialect.name,
                                                     walk_sort_index=walk)
                        walked += [r[1] for r in conn.exec_driver_sql(sql, tuple(params))]
                    assert walked == expected, (size, walk)
            stmt = run_search_select([1], ("active",), [Comparison("metric", "m", "!=", 2.0)], order, 100, 0,
                                     engine.dialect.name)
            kept = [u for u in expected if runs[u]["m"] and runs[u]["m"]["m"] != 2.0]
            assert [r.run_uuid for r in conn.execute(stmt)] == kept
    engine.dispose()


def experiments_found(engine: Engine, filter_string: str | None = None, order_by: list[str] | None = None, *,
                      stages: tuple[str, ...] = ("active",), limit: int = 100, offset: int = 0) -> list[str]:
    stmt = experiment_search_select(stages, parse_experiment_filter(filter_string),
                                    parse_experiment_order_by(order_by), limit, offset, engine.dialect.name)
    with engine.connect() as conn:
        return [row.name for row in conn.execute(stmt)]


EXPERIMENT_CASES = [
    # default order: creation_time DESC, experiment_id ASC
    (None, None, ["Exp-Two", "exp_four", "exp-one"]),
    ("name = 'exp-one'", None, ["exp-one"]),
    ("name != 'exp-one'", None, ["Exp-Two", "exp_four"]),
    ("name LIKE 'exp%'", None, ["exp_four", "exp-one"]),
    ("name ILIKE 'EXP%'", None, ["Exp-Two", "exp_four", "exp-one"]),
    ("name LIKE 'exp\\_%'", None, ["exp_four"]),
    ("attribute.name LIKE '%-%'", None, ["Exp-Two", "exp-one"]),
    ("experiment_id = '2'", None, ["Exp-Two"]),
    ("experiment_id IN ('1', '4')", None, ["exp_four", "exp-one"]),
    ("experiment_id NOT IN ('1')", None, ["Exp-Two", "exp_four"]),
    ("creation_time > 100", None, ["Exp-Two", "exp_four"]),
    ("last_update_time <= 250", None, ["Exp-Two", "exp-one"]),
    ("tags.owner = 'ann'", None, ["exp-one"]),
    ("tags.owner ILIKE 'b%'", None, ["Exp-Two"]),
    ("tags.owner IS NULL", None, ["exp_four"]),
    ("tag.owner IS NOT NULL AND creation_time >= 100", None, ["Exp-Two", "exp-one"]),
    (None, ["name ASC"], ["Exp-Two", "exp-one", "exp_four"]),
    (None, ["creation_time ASC"], ["exp-one", "exp_four", "Exp-Two"]),  # tie broken by experiment_id DESC
    (None, ["last_update_time DESC"], ["exp_four", "Exp-Two", "exp-one"]),
    (None, ["experiment_id DESC"], ["exp_four", "Exp-Two", "exp-one"]),
]


def test_experiments(engine: Engine) -> None:
    wrong = {(f, str(o)): (got, want) for f, o, want in EXPERIMENT_CASES
             if (got := experiments_found(engine, f, o)) != want}
    assert not wrong, f"(got, expected) by (filter, order_by): {wrong}"


def test_experiment_lifecycle_and_paging(engine: Engine) -> None:
    assert experiments_found(engine, stages=("deleted",)) == ["gone"]
    assert experiments_found(engine, limit=2, offset=1) == ["exp_four", "exp-one"]


def test_sqlite_walk_reads_the_sort_key_index_first_and_joins_runs_by_id(engine: Engine) -> None:
    # SQLite keeps a CROSS JOIN's table order: the (key, value) index is the outer loop (covering:
    # is_nan is read only for value 0), the filters are tested on the index entry's run_id, each
    # run that passes is one rowid lookup, and the page stops at LIMIT. PostgreSQL keeps its
    # correlated-subquery walk. The branch that starts from the filter's own index reads it first the same way.
    order = [OrderKey("metric", "acc", False)]
    filters = parse_run_filter("params.lr = '0.1'")
    for probe in (0, PROBE_LIMIT):
        sql, params = run_search_sql([1], ("active",), filters, order, 2, 0, engine.dialect.name,
                                     walk_sort_index=True, probe=probe)
        if engine.dialect.name != "sqlite":
            assert "CROSS JOIN" not in sql
            continue
        assert "FROM latest_metrics AS w CROSS JOIN runs ON runs.id = w.run_id" in sql
        assert "FROM params AS d CROSS JOIN runs ON runs.id = d.run_id" in sql
        with engine.connect() as conn:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params))]
            reads = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
            walk = reads.index("SEARCH w USING COVERING INDEX ix_latest_metrics_key_value (key=?)")
            assert reads[walk + 1:walk + 4] == [
                "SEARCH n USING PRIMARY KEY (run_id=? AND key=?)",  # is_nan, for value 0 only
                "SEARCH params USING PRIMARY KEY (run_id=? AND key=?)",  # the filter, before the run
                "SEARCH runs USING INTEGER PRIMARY KEY (rowid=?)",
            ], plan
            # the first read of that index is the probe's count, the last one the driven branch
            driven = len(reads) - 1 - reads[::-1].index("SEARCH d USING COVERING INDEX ix_params_key_value (key=? AND value=?)")
            assert reads[driven + 1] == "SEARCH runs USING INTEGER PRIMARY KEY (rowid=?)", plan
            assert [r[1] for r in conn.exec_driver_sql(sql, tuple(params))] == ["a1", "c3"]  # c3 lacks acc: last


BIG_RUNS = 300  # experiment 1; experiment 2 holds 20 more


def _seed_big(engine: Engine) -> dict[int, str]:
    """Runs with ties (values to one decimal, three start times and NULL), NaN and missing sort keys,
    deleted runs, and a unique param p0: the shapes where walking and starting from a filter could differ.
    Some runs have a tag t and a dataset input (name d0..d2, context train or eval)."""
    schema.metadata.create_all(engine)
    rnd = random.Random(11)
    other = random.Random(12)  # tags and inputs, drawn apart so the runs above stay as they were
    uuids: dict[int, str] = {}
    rows: dict[str, list[dict]] = {"runs": [], "params": [], "latest_metrics": [], "tags": [], "datasets": [],
                                   "inputs": [], "input_tags": []}
    rows["datasets"] = [{"id": d, "dataset_uuid": f"ds{d}", "experiment_id": 1, "name": f"d{d}", "digest": f"g{d}",
                         "source_type": "local", "source": "/data"} for d in range(3)]
    for n in range(1, BIG_RUNS + 21):
        uuids[n] = f"{rnd.getrandbits(64):016x}"
        rows["runs"].append({
            "id": n, "run_uuid": uuids[n], "experiment_id": 1 if n <= BIG_RUNS else 2, "status": "FINISHED",
            "start_time": rnd.choice([100, 200, 300, None]),
            "lifecycle_stage": "deleted" if rnd.random() < 0.05 else "active"})
        params = {"p0": f"r{n:05d}", "p2": f"v{rnd.randrange(5)}"}
        if rnd.random() > 0.1:
            params["p1"] = rnd.choice("abc")
        rows["params"] += [{"run_id": n, "key": k, "value": v} for k, v in params.items()]
        choice = rnd.random()
        metrics = {"m1": rnd.random()}
        if choice > 0.1:
            metrics["m0"] = NAN if choice < 0.15 else round(rnd.random(), 1)
        rows["latest_metrics"] += [{"run_id": n, "key": k, "value": 0.0 if math.isnan(v) else v,
                                    "is_nan": math.isnan(v), "timestamp": 0, "step": 0} for k, v in metrics.items()]
        if other.random() < 0.6:
            rows["tags"].append({"run_id": n, "key": "t", "value": other.choice("xyz")})
        if other.random() < 0.5:
            rows["inputs"].append({"id": n, "input_uuid": f"in{n}", "dataset_id": other.randrange(3), "run_id": n})
            rows["input_tags"].append({"input_id": n, "name": "mlflow.data.context", "value": other.choice(["train", "eval"])})
    with engine.begin() as conn:
        conn.execute(insert(schema.experiments), [
            {"experiment_id": e, "name": f"e{e}", "artifact_location": "x"} for e in (1, 2)])
        for table, values in rows.items():
            conn.execute(insert(schema.metadata.tables[table]), values)
    return uuids


def big_filters(uuids: dict[int, str]) -> list[str]:
    return [
        "params.p1 = 'zzz'", "params.p0 = 'r00123'", "params.p1 = 'a'", "params.p1 = 'c' AND params.p2 = 'v3'",
        "metrics.m1 > 0.95", "metrics.m0 = 0.5", "metrics.m1 >= 0.1", "metrics.m0 < 0.2 AND metrics.m1 > 0.9",
        "metrics.m1 < 0.5 AND params.p1 = 'a'", "params.p1 = 'b' AND params.p0 = 'r00010'",
        "params.p2 = 'v1' AND metrics.m1 <= 0.3", "params.p0 LIKE 'r0029%'",
        f"attributes.run_id = '{uuids[42]}'", f"attributes.run_id IN ('{uuids[7]}', '{uuids[8]}', 'nope')",
        "params.p0 = 'r00050' AND metrics.m0 != 0.1",
        "tags.t = 'x'", "params.p1 = 'a' AND tags.t != 'y'", "datasets.name = 'd1'",
        "datasets.context = 'eval' AND metrics.m1 < 0.5",
    ]


BIG_ORDERS = [["metrics.m0 DESC"], ["metrics.m0 ASC"], ["params.p1 ASC"], ["params.p2 DESC"]]


def test_starting_from_a_selective_filter_finds_what_the_walk_finds(db_uri: str) -> None:
    # probe=0 always walks the sort key's index; on SQLite the default starts from the least-hit filter
    # when its hits are few (hits * hits < need * runs); a huge probe does so whenever that holds
    # (PostgreSQL always walks). Every page of every way equals the plain search's (SQLAlchemy select).
    engine = make_engine(db_uri)
    uuids = _seed_big(engine)
    dialect = engine.dialect.name
    # PostgreSQL has one SQL whatever the probe (it always walks): fewer pages there, the same checks.
    sqlite = dialect == "sqlite"
    probes = (0, PROBE_LIMIT, 10**9) if sqlite else (PROBE_LIMIT,)
    pages = ((7, 0), (7, 7), (7, 21), (50, 0), (50, 100), (1000, 0)) if sqlite else ((7, 7), (50, 100), (1000, 0))
    wrong = {}
    with engine.connect() as conn:
        for text in big_filters(uuids):
            filters = parse_run_filter(text)
            for order_by in BIG_ORDERS:
                order = parse_run_order_by(order_by)
                for experiments in ([1], [1, 2]) if sqlite else ([1, 2],):
                    for size, offset in pages:
                        stmt = run_search_select(experiments, ("active",), filters, order, size, offset, dialect)
                        want = [r.run_uuid for r in conn.execute(stmt)]
                        for probe in probes:
                            sql, params = run_search_sql(experiments, ("active",), filters, order, size, offset,
                                                         dialect, walk_sort_index=True, probe=probe)
                            got = [r[1] for r in conn.exec_driver_sql(sql, tuple(params))]
                            if got != want:
                                wrong[(text, str(order_by), str(experiments), size, offset, probe)] = (got, want)
    engine.dispose()
    assert not wrong, list(wrong.items())[:3]


def test_sqlite_selective_filter_does_not_read_the_whole_sort_index(tmp_path) -> None:
    # SQLite's VM instruction count (deterministic, unlike time) shows which way the query went.
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    _seed_big(engine)
    order = parse_run_order_by(["metrics.m0 DESC"])

    def steps(text: str, probe: int) -> tuple[int, list[str]]:
        sql, params = run_search_sql([1], ("active",), parse_run_filter(text), order, 7, 0, "sqlite",
                                     walk_sort_index=True, probe=probe)
        raw = engine.raw_connection()
        try:
            count = [0]

            def tick() -> int:
                count[0] += 1
                return 0
            raw.driver_connection.set_progress_handler(tick, 100)
            found = [r[1] for r in raw.cursor().execute(sql, params).fetchall()]
            return count[0], found
        finally:
            raw.close()

    for text in ("params.p1 = 'zzz'", "params.p0 = 'r00123'", "params.p1 = 'b' AND params.p0 = 'r00010'"):
        walked, walked_found = steps(text, 0)
        driven, driven_found = steps(text, PROBE_LIMIT)
        assert driven_found == walked_found
        assert driven * 5 < walked, (text, driven, walked)
    engine.dispose()


def test_start_time_order_puts_runs_without_one_last_in_both_directions_and_pages(engine):
    """A start_time sort reads the runs that have one in index order (ix_runs_experiment_start)
    and stops at the page's end; runs without a start time still come last, either way."""
    from sqlalchemy import update

    with engine.begin() as conn:
        conn.execute(update(schema.runs).where(schema.runs.c.run_uuid == "b2").values(start_time=None))
    for walk in (False, True):
        assert search_sql(engine, None, ["attributes.start_time DESC"], walk=walk) == ["d4", "c3", "a1", "b2"]
        assert search_sql(engine, None, ["attributes.start_time ASC"], walk=walk) == ["a1", "c3", "d4", "b2"]
        assert search_sql(engine, None, ["attributes.start_time DESC"], limit=2, offset=2, walk=walk) == ["a1", "b2"]
        assert search_sql(engine, None, ["attributes.start_time DESC"], limit=1, offset=3, walk=walk) == ["b2"]
        assert search_sql(engine, "params.lr = '0.1'", ["attributes.start_time DESC"], walk=walk) == ["c3", "a1"]
    assert search(engine, None, ["attributes.start_time DESC"]) == ["d4", "c3", "a1", "b2"]

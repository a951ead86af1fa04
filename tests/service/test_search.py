"""The search grammar: accepted and rejected filters, order_by entries and page tokens."""

from __future__ import annotations

import base64
import math

import pytest

from modelyard.entities.query import Comparison as C
from modelyard.entities.query import OrderKey
from modelyard.errors import InvalidParameterValue
from modelyard.service.search import (
    decode_page_token,
    encode_page_token,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)

RUN_ACCEPTED = [
    (None, []),
    ("  ", []),
    ("metrics.acc > 0.9", [C("metric", "acc", ">", 0.9)]),
    ("metric.acc>=1", [C("metric", "acc", ">=", 1.0)]),
    ("metrics.loss < -1.5e-3", [C("metric", "loss", "<", -0.0015)]),
    ("metrics.x != .5", [C("metric", "x", "!=", 0.5)]),
    ("metrics.`my key` = 2", [C("metric", "my key", "=", 2.0)]),
    ("metrics.\"a b\" <= 1e3", [C("metric", "a b", "<=", 1000.0)]),
    ("params.lr = '0.01'", [C("param", "lr", "=", "0.01")]),
    ('param.lr = "0.01"', [C("param", "lr", "=", "0.01")]),
    ("parameters.opt like 'A%'", [C("param", "opt", "LIKE", "A%")]),
    ("params.`learning rate` ILIKE '%x%'", [C("param", "learning rate", "ILIKE", "%x%")]),
    ("params.p IS NULL", [C("param", "p", "IS NULL", None)]),
    ("params.p is not null", [C("param", "p", "IS NOT NULL", None)]),
    ("params.select = 'a'", [C("param", "select", "=", "a")]),
    ("params.1abc = 'x'", [C("param", "1abc", "=", "x")]),
    ("params.'a b' = 'c'", [C("param", "a b", "=", "c")]),
    ("params.p = 'it''s'", [C("param", "p", "=", "it''s")]),  # verbatim, as MLflow
    ("params.p = 'a;b'", [C("param", "p", "=", "a;b")]),
    ("params.é = 'café'", [C("param", "é", "=", "café")]),
    ("tags.mlflow.runName = 'x'", [C("tag", "mlflow.runName", "=", "x")]),
    ('tags."a.b" != \'x\'', [C("tag", "a.b", "!=", "x")]),
    ("tag.t = \"a'b\"", [C("tag", "t", "=", "a'b")]),
    ("`tags`.t = ''", [C("tag", "t", "=", "")]),
    ("attributes.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
    ("attr.user_id != 'u'", [C("attribute", "user_id", "!=", "u")]),
    ("run.artifact_uri LIKE '%s3%'", [C("attribute", "artifact_uri", "LIKE", "%s3%")]),
    ("status = 'RUNNING'", [C("attribute", "status", "=", "RUNNING")]),
    ("run_id IN ('a', \"b\")", [C("attribute", "run_id", "IN", ("a", "b"))]),
    ("attributes.run_id not in ('a',)", [C("attribute", "run_id", "NOT IN", ("a",))]),
    ("attributes.run_name = 'x'", [C("attribute", "run_name", "=", "x")]),
    ('"run name" = \'x\'', [C("attribute", "run_name", "=", "x")]),
    ("`Run Name` ILIKE 'x'", [C("attribute", "run_name", "ILIKE", "x")]),
    ("attributes.start_time >= 10", [C("attribute", "start_time", ">=", 10)]),
    ("created > 1.5", [C("attribute", "start_time", ">", 1.5)]),
    ("end_time != -1", [C("attribute", "end_time", "!=", -1)]),
    ("datasets.name IN ('a', 'b')", [C("dataset", "name", "IN", ("a", "b"))]),
    ("dataset.digest LIKE 'ab%'", [C("dataset", "digest", "LIKE", "ab%")]),
    ("datasets.context NOT IN ('train')", [C("dataset", "context", "NOT IN", ("train",))]),
    ("metrics.a > 1 and params.b = 'x' AND tags.c IS NULL", [
        C("metric", "a", ">", 1.0), C("param", "b", "=", "x"), C("tag", "c", "IS NULL", None)]),
    ("\n metrics.a\t> 1\n", [C("metric", "a", ">", 1.0)]),
]

RUN_REJECTED = [
    ("metrics.x > 1 OR metrics.y > 2", "OR is not supported"),
    ("metrics.x > 1 or metrics.y > 2", "OR is not supported"),
    ("(metrics.x > 1)", "Parentheses are not supported"),
    ("NOT params.p = 'a'", "NOT is not supported"),
    ("params.p = 'a'; DROP TABLE runs", "multiple expression"),
    ("params.p = 'a' ; DELETE FROM runs", "multiple expression"),
    ("metrics.x > 1 AND", "dangling AND"),
    ("AND metrics.x > 1", "extra AND"),
    ("metrics.x > 1 AND AND metrics.y > 2", "extra AND"),
    ("metrics.x > 1 metrics.y > 2", "Join comparisons with AND"),
    ("params.p = 'a' = 'b'", "Join comparisons with AND"),
    ("metrics.x = 'a'", "Expected numeric value type for metric. Found 'a'"),
    ("metrics.x > NaN", "Expected numeric value type for metric. Found NaN"),
    ("metrics.x > 0x10", "Expected numeric value type for metric"),
    ("metrics.x LIKE 1", "Invalid comparator 'LIKE' not one of"),
    ("metrics.x IN (1, 2)", "Expected numeric value type for metric"),
    ("metrics.x IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params"),
    ("params.p = abc", "Use either single or double quotes"),
    ("params.p = 5", "Expected a quoted string value for parameter"),
    ("params.p > 'a'", "Invalid comparator '>' not one of"),
    ("params.p == 'a'", "Invalid comparator '=='"),
    ("tags.t <> 'a'", "Invalid comparator '<>'"),
    ("params.p IN ('a')", "Expected a quoted string value for parameter"),
    ("params.p NOT LIKE 'a'", "expected an operator"),
    ("params.p = 'open", "never closed"),
    ("metrics.val-loss > 1", "metrics.`val-loss`"),
    ("metrics. > 1", "missing key after 'metrics.'"),
    ("params.p", "expected an operator"),
    ("params.p =", "expected a value"),
    ("'a' = params.p", "expected a key"),
    ("foo.x = 1", "Invalid entity type 'foo'"),
    ("METRICS.x > 1", "Invalid entity type 'METRICS'"),
    ("attributes.lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
    ("attributes.experiment_id = '1'", "Invalid attribute key 'experiment_id'"),
    ("attributes.status IN ('a')", "Only ['run_id'] attributes support comparison with a list"),
    ("attributes.status > 'a'", "Invalid comparator '>'"),
    ("attributes.run_id = ('a', 'b')", "only be compared with IN or NOT IN"),
    ("run_id IN 'a'", "IN takes a parenthesized list"),
    ("run_id IN ()", "got empty list"),
    ("run_id IN ('a', 1)", "got different type in list"),
    ("run_id IN ('a' 'b')", "ill-formed list"),
    ("attributes.start_time > '5'", "Expected numeric value type for numeric attribute: start_time"),
    ("attributes.start_time LIKE 5", "Invalid comparator 'LIKE'"),
    ("attributes.end_time IS NULL", "only supported for tags and params"),
    ("datasets.foo = 'a'", "Invalid dataset key 'foo'"),
    ("datasets.name > 'a'", "Invalid comparator '>'"),
    ("datasets.name = 1", "Expected a quoted string value for dataset"),
    ("datasets.digest IS NULL", "only supported for tags and params"),
]


@pytest.mark.parametrize(("text", "expected"), RUN_ACCEPTED)
def test_run_filter_accepted(text: str | None, expected: list[C]) -> None:
    assert parse_run_filter(text) == expected


@pytest.mark.parametrize(("text", "fragment"), RUN_REJECTED)
def test_run_filter_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        parse_run_filter(text)
    assert fragment in info.value.message
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_metric_value_overflow_is_infinite() -> None:
    assert parse_run_filter("metrics.x < 1e400") == [C("metric", "x", "<", math.inf)]


_MLFLOW_KIND = {"metric": "metric", "parameter": "param", "tag": "tag", "attribute": "attribute", "dataset": "dataset"}
_MLFLOW_ALIAS = {"created": "start_time", "Created": "start_time", "run name": "run_name",
                 "Run name": "run_name", "Run Name": "run_name"}


@pytest.mark.parametrize(("text", "expected"), [c for c in RUN_ACCEPTED if c[0] and c[0].strip()])
def test_run_filter_agrees_with_mlflow(text: str, expected: list[C]) -> None:
    search_utils = pytest.importorskip("mlflow.utils.search_utils")
    theirs = []
    for d in search_utils.SearchUtils.parse_search_filter(text):
        kind = _MLFLOW_KIND[d["type"]]
        key = _MLFLOW_ALIAS.get(d["key"], d["key"]) if kind == "attribute" else d["key"]
        value = float(d["value"]) if kind == "metric" else d["value"]
        theirs.append(C(kind, key, d["comparator"].upper(), value))
    assert theirs == expected


EXPERIMENT_ACCEPTED = [
    ("name = 'a'", [C("attribute", "name", "=", "a")]),
    ("attribute.name ILIKE '%A%'", [C("attribute", "name", "ILIKE", "%A%")]),
    ("experiment_id = '3'", [C("attribute", "experiment_id", "=", 3)]),
    ("experiment_id IN ('1', '2')", [C("attribute", "experiment_id", "IN", (1, 2))]),
    ("creation_time > 5 AND last_update_time <= 9", [
        C("attribute", "creation_time", ">", 5), C("attribute", "last_update_time", "<=", 9)]),
    ("tags.owner = 'ann'", [C("tag", "owner", "=", "ann")]),
    ("tag.`a b` IS NOT NULL", [C("tag", "a b", "IS NOT NULL", None)]),
]

EXPERIMENT_REJECTED = [
    ("attributes.name = 'a'", "Invalid entity type 'attributes'"),
    ("metrics.x > 1", "Invalid entity type 'metrics'"),
    ("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
    ("name IN ('a')", "Only ['experiment_id'] attributes support comparison with a list"),
    ("name > 'a'", "Invalid comparator '>'"),
    ("name IS NULL", "only supported for tags, not for attribute 'name'"),
    ("experiment_id = 1", "Expected a quoted string value for attribute"),
    ("experiment_id = 'abc'", "Invalid experiment ID 'abc'"),
    ("experiment_id LIKE '1'", "Invalid comparator 'LIKE'"),
    ("creation_time > 5.5", "Invalid value for numeric attribute 'creation_time'"),
    ("creation_time > '5'", "Expected numeric value type for numeric attribute: creation_time"),
    ("tags.t IN ('a')", "Expected a quoted string value for tag"),
    ("tags.t = 'a' OR name = 'b'", "OR is not supported"),
]


@pytest.mark.parametrize(("text", "expected"), EXPERIMENT_ACCEPTED)
def test_experiment_filter_accepted(text: str, expected: list[C]) -> None:
    assert parse_experiment_filter(text) == expected


@pytest.mark.parametrize(("text", "fragment"), EXPERIMENT_REJECTED)
def test_experiment_filter_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidParameterValue, match=None) as info:
        parse_experiment_filter(text)
    assert fragment in info.value.message


@pytest.mark.parametrize(("order_by", "expected"), [
    (None, []),
    (["metrics.m0 DESC"], [OrderKey("metric", "m0", False)]),
    (["metrics.m0"], [OrderKey("metric", "m0", True)]),
    (["attributes.start_time asc", "params.p desc"], [OrderKey("attribute", "start_time", True),
                                                     OrderKey("param", "p", False)]),
    (["created DESC"], [OrderKey("attribute", "start_time", False)]),
    (["run_name"], [OrderKey("attribute", "run_name", True)]),
    (["metrics.`my key` DESC"], [OrderKey("metric", "my key", False)]),
    (['tags."a b" ASC'], [OrderKey("tag", "a b", True)]),
    (["tags.mlflow.runName DESC"], [OrderKey("tag", "mlflow.runName", False)]),
])
def test_run_order_by_accepted(order_by: list[str] | None, expected: list[OrderKey]) -> None:
    assert parse_run_order_by(order_by) == expected


@pytest.mark.parametrize(("order_by", "fragment"), [
    (["metrics.m0 sideways"], "Invalid ordering key in order_by clause"),
    (["metrics.m0 DESC, params.p"], "Could not be parsed"),
    (["metrics.m0 DESC extra"], "Could not be parsed"),
    (["metrics.m0 DESC;"], "Could not be parsed"),
    ([""], "Could not be parsed"),
    (["metrics.a-b"], "Could not be parsed"),
    (["attributes.lifecycle_stage"], "Invalid attribute key 'lifecycle_stage'"),
    (["experiment_id"], "Invalid attribute key 'experiment_id'"),
    (['"run name"'], "Invalid attribute key 'run name'"),
    (["datasets.name"], "Invalid identifier type 'dataset'"),
    (["foo.x"], "Invalid entity type 'foo'"),
    (["metrics.m0", "metrics.m0 DESC"], "duplicate fields"),
    (["created", "attributes.start_time DESC"], "duplicate fields"),
])
def test_run_order_by_rejected(order_by: list[str], fragment: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        parse_run_order_by(order_by)
    assert fragment in info.value.message


def test_experiment_order_by() -> None:
    assert parse_experiment_order_by(None) == []
    assert parse_experiment_order_by(["name DESC", "attribute.experiment_id"]) == [
        OrderKey("attribute", "name", False), OrderKey("attribute", "experiment_id", True)]
    for bad, fragment in [(["tags.x"], "Invalid order_by entity: tag"), (["foo"], "Invalid attribute key 'foo'"),
                          (["attr.name"], "Invalid entity type 'attr'")]:
        with pytest.raises(InvalidParameterValue) as info:
            parse_experiment_order_by(bad)
        assert fragment in info.value.message


def test_page_tokens_round_trip_and_match_mlflow() -> None:
    token = encode_page_token(1000)
    assert base64.b64decode(token) == b'{"offset": 1000}'
    assert decode_page_token(token) == 1000
    assert decode_page_token(None) == 0
    assert decode_page_token("") == 0
    assert decode_page_token(base64.b64encode(b'{"offset": "25"}').decode()) == 25
    search_utils = pytest.importorskip("mlflow.utils.search_utils")
    assert search_utils.SearchUtils.create_page_token(1000).decode() == token


@pytest.mark.parametrize(("token", "fragment"), [
    ("%%%", "could not base64-decode"),
    ("abc", "could not base64-decode"),
    (base64.b64encode(b"not json").decode(), "Invalid page token, decoded value"),
    (base64.b64encode(b"[1]").decode(), "Invalid page token, parsed value"),
    (base64.b64encode(b'{"offset": -5}').decode(), "Invalid page token, parsed value"),
    (base64.b64encode(b'{"offset": "x"}').decode(), "Invalid page token, parsed value"),
    (base64.b64encode(b'{"offset": 1.5}').decode(), "Invalid page token, parsed value"),
    (base64.b64encode(b'{"other": 1}').decode(), "Invalid page token, parsed value"),
])
def test_bad_page_token(token: str, fragment: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        decode_page_token(token)
    assert fragment in info.value.message
    assert "next_page_token" in info.value.message


def _seed_big_experiment(service) -> tuple[str, dict[int, str]]:
    """250 runs (240 in one experiment): ties in start_time and m0, NaN and missing m0, a unique p0."""
    import random

    from modelyard.entities import Metric, Param

    rnd = random.Random(5)
    big, other = service.experiments.create("big"), service.experiments.create("other")
    ids: dict[int, str] = {}
    for n in range(250):
        run_id = service.runs.create(big if n < 240 else other, start_time=rnd.choice([10, 20, 30])).info.run_id
        ids[n] = run_id
        params = [Param("p0", f"r{n:04d}"), Param("p2", f"v{rnd.randrange(4)}")]
        if rnd.random() > 0.1:
            params.append(Param("p1", rnd.choice("abc")))
        metrics = [Metric("m1", rnd.random(), 0, 0)]
        choice = rnd.random()
        if choice > 0.1:
            metrics.append(Metric("m0", math.nan if choice < 0.15 else round(rnd.random(), 1), 0, 0))
        service.runs.log_batch(run_id, metrics, params, [])
    db = service.store.db
    if not db.is_sqlite:
        with db.engine.connect() as conn:  # the walk waits for statistics on PostgreSQL
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    return big, ids


def test_big_experiment_pages_are_the_same_whether_walked_or_read_from_the_filter(service):
    # Pages of 4 in a 240-run experiment walk the sort key's index (the bar is 8 * need runs); on SQLite
    # the selective filters (a few hits) start from their own index instead; one page of 1,000 never
    # walks. Every page, read through its token, is the same slice of the one big page.
    big, ids = _seed_big_experiment(service)
    order_keys = parse_run_order_by(["metrics.m0 DESC"])
    with service.store.db.fast_read() as tx:
        assert service.store.runs._walk_sort_index(tx, [int(big)], order_keys, 5) is True
        assert service.store.runs._walk_sort_index(tx, [int(big)], order_keys, 1001) is False
    filters = [
        "params.p1 = 'zzz'", "params.p0 = 'r0123'", "params.p1 = 'a'", "params.p1 = 'b' AND params.p0 = 'r0010'",
        "metrics.m1 > 0.9", "metrics.m1 < 0.5 AND params.p1 = 'a'", "params.p0 = 'r0245'",
        f"attributes.run_id IN ('{ids[3]}', '{ids[77]}', '{ids[241]}')", "params.p2 = 'v1' AND metrics.m0 >= 0.5",
    ]
    wrong = {}
    for text in filters:
        for order in (["metrics.m0 DESC"], ["metrics.m0 ASC"], ["params.p1 DESC"]):
            want = [r["info"]["run_id"] for r in service.runs.search_dicts([big], text, max_results=1000,
                                                                           order_by=order).items]
            got, token = [], None
            for _ in range(6):
                page = service.runs.search_dicts([big], text, max_results=4, order_by=order, page_token=token)
                got += [r["info"]["run_id"] for r in page.items]
                token = page.next_page_token
                if token is None:
                    break
            if got != want[:24] or (token is None) != (len(want) <= 24):
                wrong[(text, order[0])] = (got, want[:24])
    assert not wrong, list(wrong.items())[:3]


def test_postgres_starts_from_a_selective_filter_instead_of_walking(service):
    # SQLite decides inside the walk's own SQL; PostgreSQL gets its own plan when the planner
    # expects few hits (hits * hits < need * runs), and the walk otherwise.
    big, _ = _seed_big_experiment(service)
    order_keys = parse_run_order_by(["metrics.m0 DESC"])
    runs = service.store.runs
    with service.store.db.fast_read() as tx:
        def walks(text: str) -> bool:
            return runs._walk_sort_index(tx, [int(big)], order_keys, 10, parse_run_filter(text))

        assert walks("params.p1 = 'a'") is True  # ~70 of 250 runs: matches come early in the index
        selective = ["params.p1 = 'zzz'", "params.p0 = 'r0123'", "metrics.m1 > 0.999",
                     "params.p1 = 'a' AND params.p0 = 'r0007'"]
        assert [walks(text) for text in selective] == [service.store.db.is_sqlite] * len(selective)

"""``search_runs``: the same runs in our server and in MLflow's own SQLite store give the same answers.

MLflow's store (in process, ``sqlite:///``) is the oracle for filter semantics,
``order_by`` with its tie-breaks, view types and which filters are rejected.
"""

from __future__ import annotations

import pytest
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException

from .conftest import unique

NAN, INF = float("nan"), float("inf")

# name, start_time, status, metrics {key: [(value, step)]}, params, tags, datasets [(name, context)], deleted
RUNS = [
    ("r1", 1000, "FINISHED", {"acc": [(0.5, 0), (0.9, 1)], "loss": [(0.3, 0)]},
     {"model": "knn", "k": "5"}, {"team": "vision", "Env": "Prod"}, [("train", "training")], False),
    ("r2", 2000, "FAILED", {"acc": [(0.75, 0)], "loss": [(0.5, 3), (0.7, 2)]},
     {"model": "logreg", "C": "1.0"}, {"team": "nlp"}, [("eval", "evaluation")], False),
    ("r3", 3000, "FINISHED", {"acc": [(NAN, 0)], "loss": [(INF, 0)]},
     {"model": "KNN", "k": "10"}, {"team": "Vision"}, [("train", "training"), ("eval", "evaluation")], False),
    ("r4", 4000, "RUNNING", {"loss": [(-INF, 1)]},
     {"model": "tree"}, {}, [], False),
    ("R5", 5000, "KILLED", {"acc": [(1.0, 0)]},
     {"model": "knn", "weird key": "x"}, {"team": "vision", "with space": "yes"}, [], False),
    ("r6", 6000, "FINISHED", {"acc": [(0.95, 0)]},
     {"model": "knn"}, {"team": "audio"}, [("train", "training")], True),
]

FILTERS = [
    "",
    "metrics.acc > 0.8", "metrics.acc >= 0.75", "metrics.acc < 1", "metrics.acc <= 0.9",
    "metrics.acc = 0.9", "metrics.acc != 0.9", "metrics.loss > 0", "metrics.loss < 0", "metrics.loss = 0.5",
    "metric.acc > 0", "metrics.`acc` > 0.5", 'metrics."acc" > 0.5', "metrics.acc > -1e3",
    "params.model = 'knn'", "params.model != 'knn'", "params.model LIKE 'k%'", "params.model LIKE 'K%'",
    "params.model ILIKE 'k%'", "params.model IN ('knn', 'tree')", "params.model NOT IN ('knn')",
    "params.`weird key` = 'x'", "params.k = '5'", "params.model LIKE '%n'", "params.model ILIKE '_nn'",
    "params.k IS NULL", "params.k IS NOT NULL",
    "tags.team = 'vision'", "tags.team LIKE 'V%'", "tags.team ILIKE 'v%'", "tags.`Env` = 'Prod'",
    "tags.team != 'vision'", "tags.`with space` = 'yes'", "tags.team IS NULL", "tags.team IS NOT NULL",
    "tags.team IN ('nlp', 'audio')", "tags.team NOT IN ('vision')", "tags.mlflow.runName = 'r2'",
    "attributes.status = 'FINISHED'", "attributes.status != 'FINISHED'", "status = 'FAILED'",
    "attributes.status IN ('FAILED', 'KILLED')", "attributes.status NOT IN ('FINISHED')",
    "attributes.run_name = 'r2'", "attributes.run_name LIKE 'r%'", "attributes.run_name ILIKE 'r%'",
    "run_name = 'r3'", "attributes.run_name IN ('r1', 'R5')", "attributes.start_time > 2500",
    "attributes.start_time <= 3000", "attributes.start_time != 3000", "attributes.end_time > 0",
    "attributes.created > 2500", "attributes.user_id = 'modelyard-compat'",
    "datasets.name = 'train'", "datasets.name != 'train'", "datasets.context = 'evaluation'",
    "datasets.name IN ('train', 'eval')", "datasets.name LIKE 'tr%'", "datasets.name ILIKE 'TR%'",
    "datasets.context IN ('training')",
    "params.model = 'svm'", "metrics.acc > 5", "tags.team = 'nobody'", "datasets.name = 'none'",
    "metrics.acc > 0.5 AND params.model = 'knn'", "params.model = 'knn' and tags.team = 'vision'",
    "metrics.acc >= 0.5 AND metrics.loss < 1 AND datasets.name = 'train'",
    "attributes.status = 'FINISHED' AND tags.team ILIKE '%i%'",
    # Rejected by MLflow: we must reject them too.
    "metrics.acc > 0.5 OR params.model = 'knn'", "params.p = 'x' OR 1=1", "params.p = 'a'; DROP TABLE runs --",
    "metrics.acc = 'high'", "metrics.acc LIKE '0%'", "params.model > 'a'", "bogus.x = 1",
    "attributes.nope = 'x'", "params.model = knn", "metrics.acc >",
    "attributes.start_time = 'yesterday'", "datasets.bogus = 'x'", "(params.model = 'knn')",
    "params.model IN 'knn'", "params.model == 'knn'", "params.model = ('knn', 'tree')",
]

# MLflow silently accepts these (ignoring what follows, or matching nothing); we say how to fix them.
STRICTER = ["tags.team = 'a' AND", "params.model = 'knn' params.k = '5'"]

ORDERS = [
    [], ["metrics.acc DESC"], ["metrics.acc ASC"], ["metrics.acc"], ["metrics.loss DESC"], ["metrics.loss ASC"],
    ["params.model ASC", "metrics.acc DESC"], ["params.model DESC"], ["tags.team ASC"], ["tags.team DESC"],
    ["attributes.start_time ASC"], ["start_time DESC"], ["attributes.run_name ASC"], ["run_name DESC"],
    ["attributes.status ASC"], ["attributes.end_time DESC"], ["`metrics`.acc DESC"],
    ["metrics.`acc` DESC"], ["attributes.created ASC"],
    # Rejected
    ["metrics.acc SIDEWAYS"], ["nope.acc"], ["metrics.acc DESC extra"],
]


def _seed(client, experiment_id: str) -> None:
    for name, start, status, metrics, params, tags, datasets, deleted in RUNS:
        run = client.create_run(experiment_id, start_time=start, tags={"mlflow.user": "modelyard-compat"},
                                run_name=name)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(k, v, start + step, step) for k, points in metrics.items() for v, step in points],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if datasets:
            client.log_inputs(rid, [
                DatasetInput(Dataset(ds, f"d-{ds}", "code", '{"uri": "x"}', '{"cols": 1}', '{"rows": 2}'),
                             [InputTag("mlflow.data.context", ctx)])
                for ds, ctx in datasets
            ])
        if status != "RUNNING":
            client.set_terminated(rid, status, end_time=start + 500)
        if deleted:
            client.delete_run(rid)


def _outcome(client, experiment_id, filter_string="", order_by=(), view=ViewType.ACTIVE_ONLY):
    try:
        runs = client.search_runs([experiment_id], filter_string, view, max_results=1000, order_by=list(order_by))
    except MlflowException as exc:
        return ("error", exc.error_code)
    return [r.info.run_name for r in runs]


@pytest.fixture(scope="module")
def reference_experiment(reference):
    eid = reference.create_experiment(unique("search-ref"))
    _seed(reference, eid)
    return eid


@pytest.fixture(scope="module")
def seeded(server, reference_experiment):
    from mlflow import MlflowClient

    ours = MlflowClient(server.url)
    eid = ours.create_experiment(unique("search"))
    _seed(ours, eid)
    return ours, eid


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_matches_mlflow(seeded, reference, reference_experiment, filter_string):
    ours, eid = seeded
    expected = _outcome(reference, reference_experiment, filter_string)
    got = _outcome(ours, eid, filter_string)
    assert got == expected
    for view in (ViewType.DELETED_ONLY, ViewType.ALL):
        assert _outcome(ours, eid, filter_string, view=view) == _outcome(
            reference, reference_experiment, filter_string, view=view
        )


@pytest.mark.parametrize("filter_string", STRICTER)
def test_sloppy_filters_mlflow_lets_through_are_rejected(seeded, filter_string):
    ours, eid = seeded
    assert _outcome(ours, eid, filter_string) == ("error", "INVALID_PARAMETER_VALUE")


def test_oracle_is_discriminating(reference, reference_experiment):
    """The filter table exercises matches, non-matches and rejections alike."""
    outcomes = [_outcome(reference, reference_experiment, f) for f in FILTERS]
    errors = [o for o in outcomes if isinstance(o, tuple)]
    results = [o for o in outcomes if isinstance(o, list)]
    assert len(errors) >= 10
    assert sum(1 for o in results if o == []) >= 3
    assert sum(1 for o in results if 0 < len(o) < 5) >= 30


@pytest.mark.parametrize("order_by", ORDERS, ids=lambda o: ",".join(o) or "default")
def test_order_by_matches_mlflow(seeded, reference, reference_experiment, order_by):
    ours, eid = seeded
    expected = _outcome(reference, reference_experiment, "", order_by, ViewType.ALL)
    assert _outcome(ours, eid, "", order_by, ViewType.ALL) == expected


def test_paging_walks_every_run_once(seeded):
    ours, eid = seeded
    everything = [r.info.run_name for r in ours.search_runs([eid], run_view_type=ViewType.ALL,
                                                            order_by=["metrics.acc DESC"])]
    assert len(everything) == len(RUNS)
    seen, token, pages = [], None, 0
    while True:
        page = ours.search_runs([eid], run_view_type=ViewType.ALL, order_by=["metrics.acc DESC"],
                                max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [r.info.run_name for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert seen == everything
    assert pages == 3


def test_fluent_search_runs_dataframe(seeded, client):
    import mlflow

    ours, eid = seeded
    df = mlflow.search_runs([eid], filter_string="params.model = 'knn'", order_by=["attributes.start_time ASC"])
    assert list(df["tags.mlflow.runName"]) == ["r1", "R5"]
    assert list(df["params.model"]) == ["knn", "knn"]
    assert df["metrics.acc"].tolist() == [0.9, 1.0]
    runs = mlflow.search_runs([eid], filter_string="metrics.acc > 0.8", output_format="list")
    assert {r.info.run_name for r in runs} == {"r1", "R5"}
    by_name = mlflow.search_runs(experiment_names=[ours.get_experiment(eid).name], max_results=1,
                                 order_by=["attributes.run_name ASC"])
    assert list(by_name["tags.mlflow.runName"]) == ["R5"]


def test_search_runs_in_several_experiments(seeded, client):
    _, eid = seeded
    other = client.create_experiment(unique())
    client.create_run(other, run_name="elsewhere")
    names = {r.info.run_name for r in client.search_runs([eid, other])}
    assert names == {"r1", "r2", "r3", "r4", "R5", "elsewhere"}
    assert client.search_runs([other], "attributes.run_name = 'r1'") == []


def test_search_by_run_id(seeded):
    ours, eid = seeded
    runs = ours.search_runs([eid], order_by=["attributes.start_time ASC"])
    ids = [r.info.run_id for r in runs[:2]]
    got = ours.search_runs([eid], f"attributes.run_id IN ('{ids[0]}', '{ids[1]}')", order_by=["start_time ASC"])
    assert [r.info.run_id for r in got] == ids
    got = ours.search_runs([eid], f"attributes.run_id = '{ids[1]}'")
    assert [r.info.run_id for r in got] == [ids[1]]


def test_injection_is_rejected_and_tables_survive(seeded, http):
    ours, eid = seeded
    before = len(ours.search_runs([eid], run_view_type=ViewType.ALL))
    for bad in [
        "params.p = 'a'; DROP TABLE runs --",
        "params.p = 'x' OR 1=1",
        "params.model = 'knn' --",
        "tags.team = 'vision'; DELETE FROM metrics",
        "metrics.acc > 0 UNION SELECT * FROM runs",
        "attributes.run_id IN ('a'); DROP TABLE experiments; --')",
    ]:
        r = http.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": [eid], "filter": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # Quotes inside a value are data, not SQL.
    assert ours.search_runs([eid], "params.model = 'knn'' OR ''1''=''1'") == []
    assert ours.search_runs([eid], "tags.team = \"x' OR '1'='1\"") == []
    assert len(ours.search_runs([eid], run_view_type=ViewType.ALL)) == before == len(RUNS)
    assert ours.get_experiment(eid).lifecycle_stage == "active"


def test_search_errors(seeded, http):
    ours, eid = seeded
    for body in [
        {"experiment_ids": [eid], "max_results": 50001},
        {"experiment_ids": [eid], "max_results": 0},
        {"experiment_ids": [eid], "page_token": "garbage!!"},
        {"experiment_ids": [eid], "page_token": "eyJvZmZzZXQiOiAtNX0="},  # {"offset": -5}
        {"experiment_ids": [eid], "run_view_type": "SOMETIMES"},
        {"experiment_ids": ["not-a-number"]},
        {"experiment_ids": eid},
        {"experiment_ids": [eid], "order_by": "metrics.acc"},
    ]:
        r = http.post("/api/2.0/mlflow/runs/search", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.text)
    with pytest.raises(MlflowException) as info:
        ours.search_runs([eid], max_results=50001)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert len(ours.search_runs([eid], max_results=50000)) == 5


def test_search_get_endpoint(seeded, http):
    _, eid = seeded
    r = http.get("/api/2.0/mlflow/runs/search", params=[
        ("experiment_ids", eid), ("filter", "params.model = 'knn'"), ("order_by", "attributes.start_time DESC"),
        ("max_results", "1"),
    ])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [run["info"]["run_name"] for run in body["runs"]] == ["R5"]
    assert body["next_page_token"]

"""POST /api/2.0/modelyard/runs/ingest: every point reads back, NaN and infinities survive, bad input gets a 400
naming the field, and a refused batch stores nothing. Through our SDK and as raw HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

import modelyard as my
from modelyard.client.http import HttpTransport
from modelyard.entities import Metric, Param, RunTag
from modelyard.entities.metric_columns import MetricColumns
from modelyard.service.limits import MAX_BULK_METRICS
from tests.conftest import LiveServer, serving

INGEST = "/api/2.0/modelyard/runs/ingest"
T0 = 1_700_000_000_000


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(request.param, Path(tmp_path_factory.mktemp(f"ingest-{request.param}"))) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[my.Client]:
    c = my.Client(server.url)
    yield c
    c.close()


@pytest.fixture
def run_id(client: my.Client) -> str:
    return client.create_run("0").info.run_id


def _post(server: LiveServer, body: dict) -> httpx.Response:
    return httpx.post(server.url + INGEST, json=body, timeout=60)


def _series(key: str, values: list, steps: list | None = None, timestamps: list | None = None) -> dict:
    steps = list(range(len(values))) if steps is None else steps
    timestamps = [T0 + i for i in range(len(values))] if timestamps is None else timestamps
    return {"key": key, "values": values, "timestamps": timestamps, "steps": steps}


def _history(client: my.Client, run_id: str, key: str) -> list[tuple[int, int, float]]:
    return sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))


def test_every_point_reads_back_and_latest_is_the_last_step(client: my.Client, run_id: str) -> None:
    # More than one request's worth, keys interleaved as a training loop logs them.
    steps = MAX_BULK_METRICS // 3 + 5
    metrics = [Metric(f"m{k}", step * 0.5 + k, T0 + step, step) for step in range(steps) for k in range(4)]
    client.log_batch(run_id, metrics, params=[Param("lr", "0.1")], tags=[RunTag("team", "a")])

    for k in range(4):
        assert _history(client, run_id, f"m{k}") == [(s, T0 + s, s * 0.5 + k) for s in range(steps)]
    data = client.get_run(run_id).data
    assert {m.key: (m.step, m.value) for m in data.metric_objects} == {
        f"m{k}": (steps - 1, (steps - 1) * 0.5 + k) for k in range(4)
    }
    assert (data.params, data.tags.get("team")) == ({"lr": "0.1"}, "a")


def test_nan_and_infinities_read_back(client: my.Client, run_id: str) -> None:
    values = [1.0, math.nan, math.inf, -math.inf, 2.0]
    client.log_batch(run_id, [Metric("odd", v, T0 + i, i) for i, v in enumerate(values)])
    got = _history(client, run_id, "odd")
    assert [s for s, _, _ in got] == [0, 1, 2, 3, 4]
    assert math.isnan(got[1][2])
    assert [v for _, _, v in got if not math.isnan(v)] == [1.0, math.inf, -math.inf, 2.0]


def test_sdk_json_bodies_read_back_with_nan_and_infinities(server: LiveServer, client: my.Client, run_id: str) -> None:
    """The SDK's JSON body (what it sends to a server without MessagePack ingest) carries NaN and infinities."""
    transport = HttpTransport(server.url)
    transport.ingest_msgpack = False
    try:
        transport.log_bulk(run_id, [Metric("j", v, T0, i) for i, v in enumerate([0.5, math.nan, math.inf, 2])], [], [])
        transport.log_bulk(run_id, [Metric("j", 1.25, T0, 9)], [], [])
    finally:
        transport.close()
    got = [v for _, _, v in _history(client, run_id, "j")]
    assert got[0] == 0.5 and math.isnan(got[1]) and got[2:] == [math.inf, 2.0, 1.25]


def test_nan_as_the_latest_point_is_the_latest_value(client: my.Client, run_id: str) -> None:
    client.log_batch(run_id, [Metric("x", 3.0, T0, 0), Metric("x", math.nan, T0 + 1, 1)])
    (latest,) = client.get_run(run_id).data.metric_objects
    assert latest.step == 1 and math.isnan(latest.value)


def test_raw_json_strings_for_non_finite_values(server: LiveServer, client: my.Client, run_id: str) -> None:
    resp = _post(server, {"run_id": run_id, "metrics": [_series("s", [1.5, "NaN", "Infinity", "-Infinity"])]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["points"] == 4
    got = _history(client, run_id, "s")
    assert got[0][2] == 1.5 and math.isnan(got[1][2]) and got[2][2] == math.inf and got[3][2] == -math.inf


def test_one_key_in_two_series_keeps_the_greatest_step_as_latest(
    server: LiveServer, client: my.Client, run_id: str
) -> None:
    body = {"run_id": run_id, "metrics": [_series("k", [9.0, 8.0], [5, 7]), _series("k", [1.0, 2.0], [6, 3])]}
    assert _post(server, body).status_code == 200
    assert [(s, v) for s, _, v in _history(client, run_id, "k")] == [(3, 2.0), (5, 9.0), (6, 1.0), (7, 8.0)]
    (latest,) = client.get_run(run_id).data.metric_objects
    assert (latest.step, latest.value) == (7, 8.0)


def test_a_point_sent_twice_is_stored_once(server: LiveServer, client: my.Client, run_id: str) -> None:
    body = {"run_id": run_id, "metrics": [_series("d", [1.0, 1.0, 2.0], [0, 0, 1], [T0, T0, T0])]}
    assert _post(server, body).status_code == 200
    assert _post(server, body).status_code == 200
    assert _history(client, run_id, "d") == [(0, T0, 1.0), (1, T0, 2.0)]


def test_big_batch_with_repeats_and_nan_reads_back(server: LiveServer, client: my.Client, run_id: str) -> None:
    """Past one multi-row INSERT (250 rows): points repeated in one batch are stored once, NaN mid-batch kept."""
    steps = [s for s in range(700) for _ in range(2)]
    values = ["NaN" if s == 333 else s / 4 for s in steps]
    assert _post(server, {"run_id": run_id, "metrics": [_series("r", values, steps, [T0] * len(steps))]}).status_code == 200
    got = _history(client, run_id, "r")
    assert [s for s, _, _ in got] == list(range(700))
    assert math.isnan(got[333][2])
    assert [v for s, _, v in got if s != 333] == [s / 4 for s in range(700) if s != 333]


@pytest.mark.parametrize(
    ("series", "field"),
    [
        (_series("a", [1.0, 2.0], [0, 1], [T0]), "metrics[1]"),
        (_series("a", [1.0, 2.0], [0, 1], [T0, -5]), "metrics[1].timestamps[1]"),
        (_series("a", [1.0, 2.0], [0, 2**63]), "metrics[1].steps[1]"),
        (_series("../up", [1.0]), "metrics[1].key"),
        (_series("", [1.0]), "metrics[1].key"),
        (_series("a", [1.0, "abc"]), "metrics[1].values[1]"),
        (_series("a", [1.0], ["x"]), "metrics[1].steps[0]"),
        ({"values": [1.0], "timestamps": [T0], "steps": [0]}, "metrics[1]"),
    ],
)
def test_bad_series_is_a_400_naming_the_field_and_stores_nothing(
    server: LiveServer, client: my.Client, run_id: str, series: dict, field: str
) -> None:
    resp = _post(server, {"run_id": run_id, "metrics": [_series("good", [1.0, 2.0]), series]})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in body["message"], body["message"]
    assert client.get_metric_history(run_id, "good") == []


def test_too_many_points_is_a_400_with_the_limit(server: LiveServer, client: my.Client, run_id: str) -> None:
    n = MAX_BULK_METRICS + 1
    resp = _post(server, {"run_id": run_id, "metrics": [_series("big", [0.0] * n)]})
    assert resp.status_code == 400
    assert str(MAX_BULK_METRICS) in resp.json()["message"]
    assert client.get_metric_history(run_id, "big") == []


def _post_msgpack(server: LiveServer, content: bytes) -> httpx.Response:
    return httpx.post(server.url + INGEST, content=content, headers={"Content-Type": "application/msgpack"}, timeout=60)


def test_msgpack_body_reads_back_with_nan_and_infinities(server: LiveServer, client: my.Client, run_id: str) -> None:
    body = {"run_id": run_id, "metrics": [_series("mp", [0.25, math.nan, -math.inf, 3])]}
    resp = _post_msgpack(server, msgspec.msgpack.encode(body))
    assert resp.status_code == 200, resp.text
    got = _history(client, run_id, "mp")
    assert [v for _, _, v in got][::2] == [0.25, -math.inf] and got[3][2] == 3.0 and math.isnan(got[1][2])


@pytest.mark.parametrize(
    ("series", "field"),
    [
        (_series("a", [1.0, "abc"]), "parameter 'metrics[0].values[1]'"),
        (_series("a", [1.0], [0], [-1]), "metrics[0].timestamps[0]"),
        ({"key": "a", "values": [1.0], "steps": [0]}, "parameter 'metrics[0].timestamps'"),
    ],
)
def test_bad_msgpack_series_is_a_400_naming_the_field(
    server: LiveServer, run_id: str, series: dict, field: str
) -> None:
    resp = _post_msgpack(server, msgspec.msgpack.encode({"run_id": run_id, "metrics": [series]}))
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE" and field in resp.json()["message"]


def test_malformed_msgpack_is_a_400(server: LiveServer) -> None:
    resp = _post_msgpack(server, b"\x81\xa6run_id")  # a map whose one key has no value: cut short
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "MALFORMED_REQUEST" and "MessagePack" in resp.json()["message"]


def test_missing_and_unknown_run(server: LiveServer) -> None:
    resp = _post(server, {"metrics": [_series("a", [1.0])]})
    assert resp.status_code == 400 and "run_id" in resp.json()["message"]
    resp = _post(server, {"run_id": "f" * 32, "metrics": [_series("a", [1.0])]})
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_malformed_body_is_a_400(server: LiveServer) -> None:
    resp = httpx.post(server.url + INGEST, content=b'{"run_id": "x", "metrics": [', timeout=30,
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "MALFORMED_REQUEST" and "Malformed JSON" in resp.json()["message"]


# ---- MetricColumns: the columnar batch seen as a sequence of metrics -------------------


def test_metric_columns_reads_as_the_metrics_it_holds() -> None:
    cols = MetricColumns([("a", [1.0, 2.0], [T0, T0 + 1], [0, 1]), ("b", [], [], []), ("c", [3.0], [T0], [9])])
    want = [Metric("a", 1.0, T0, 0), Metric("a", 2.0, T0 + 1, 1), Metric("c", 3.0, T0, 9)]
    assert len(cols) == 3
    assert list(cols) == want
    assert [cols[i] for i in range(3)] == want
    assert cols[-1] == want[-1] and cols[1:] == want[1:]
    with pytest.raises(IndexError):
        cols[3]
    with pytest.raises(ValueError, match="'a'"):
        MetricColumns([("a", [1.0], [T0, T0], [0])])


def test_store_writes_columns_as_it_writes_metrics(service) -> None:
    """The columnar write and the per-metric write leave the same history and latest values."""
    exp = service.experiments.create("cols", None, {})
    runs = [service.runs.create(exp, None, None, {}, None).info.run_id for _ in range(2)]
    series = [
        ("v", [0.5, math.nan, 2.0, math.inf, 2.0], [T0, T0, T0 + 1, T0, T0 + 1], [0, 1, 2, 2, 2]),
        ("w", [1.0, -math.inf], [T0, T0], [4, 3]),
        ("v", [7.0], [T0], [1]),
        # Past one multi-row INSERT, each point twice, a NaN and an infinity among them.
        ("u", [math.nan if s == 9 else math.inf if s == 11 else s / 8 for s in range(600) for _ in (0, 1)],
         [T0] * 1200, [s for s in range(600) for _ in (0, 1)]),
    ]
    service.runs.log_batch(runs[0], MetricColumns(series), max_metrics=MAX_BULK_METRICS)
    service.runs.log_batch(runs[1], list(MetricColumns(series)), max_metrics=MAX_BULK_METRICS)

    def seen(run_id: str) -> tuple:
        hist = {k: [(m.step, m.timestamp, repr(m.value)) for m in service.runs.metric_history(run_id, k).items]
                for k in ("v", "w", "u")}
        latest = sorted((m.key, m.step, m.timestamp, repr(m.value)) for m in service.runs.get(run_id).data.metric_objects)
        return hist, latest

    assert seen(runs[0]) == seen(runs[1])
    hist, latest = seen(runs[0])
    assert len(hist["v"]) == 5 and len(hist["w"]) == 2  # (2, T0 + 1, 2.0) twice: stored once
    assert [s for s, _, _ in hist["u"]] == list(range(600))
    assert (hist["u"][9][2], hist["u"][11][2], hist["u"][599][2]) == ("nan", "inf", repr(599 / 8))
    assert latest == [("u", 599, T0, repr(599 / 8)), ("v", 2, T0 + 1, "2.0"), ("w", 4, T0, "1.0")]

"""numpy (and torch) numbers logged through the SDK, embedded and against a live server, as MLflow takes them.

MLflow's client sends ``float(value)`` for a metric (``.item()`` first for a
tensor or an array; so "0.5" and b"0.5" are numbers too), takes any integer as a
step or timestamp but no float or bool, and stores ``str(value)`` for a param or tag.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import modelyard as my
from modelyard.entities import Metric, Param, RunTag
from modelyard.errors import InvalidParameterValue

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory):
    """One server for the module: every test makes its own run."""
    from ..conftest import LiveServer

    folder = tmp_path_factory.mktemp("numpy-served")
    server = LiveServer(f"sqlite:///{folder / 'server.db'}", str(folder / "artifacts"))
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "served"])
def uri(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "embedded":
        return str(tmp_path / "store")
    return request.getfixturevalue("shared_server").url


@pytest.fixture
def client(uri: str):
    with my.Client(uri) as c:
        yield c


@pytest.fixture
def run_id(client) -> str:
    return client.create_run("0").info.run_id


@pytest.fixture
def fluent(uri: str, monkeypatch):
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    my.set_tracking_uri(uri)
    yield uri
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


def _points(client, run_id: str, key: str) -> list[tuple[object, object, object]]:
    return [(m.value, m.step, m.timestamp) for m in client.get_metric_history(run_id, key)]


def _assert_plain(points: list[tuple[object, object, object]]) -> None:
    for value, step, timestamp in points:
        assert (type(value), type(step), type(timestamp)) == (float, int, int)


def test_log_metric_takes_numpy_values_steps_and_timestamps(client, run_id):
    client.log_metric(run_id, "f32", np.float32(0.5), step=np.int64(2), timestamp=np.int64(T0))
    client.log_metric(run_id, "f64", np.float64(0.25), step=np.int32(3), timestamp=np.uint64(T0 + 1))
    client.log_metric(run_id, "i64", np.int64(7), timestamp=T0)
    client.log_metric(run_id, "f16", np.float16(1.5), timestamp=T0)
    client.log_metric(run_id, "array", np.array(0.125), timestamp=T0)
    client.log_metric(run_id, "one", np.array([4.5]), timestamp=T0)

    assert _points(client, run_id, "f32") == [(0.5, 2, T0)]
    assert _points(client, run_id, "f64") == [(0.25, 3, T0 + 1)]
    assert _points(client, run_id, "i64") == [(7.0, 0, T0)]
    assert _points(client, run_id, "f16") == [(1.5, 0, T0)]
    assert _points(client, run_id, "array") == [(0.125, 0, T0)]
    assert _points(client, run_id, "one") == [(4.5, 0, T0)]
    for key in ("f32", "f64", "i64"):
        _assert_plain(_points(client, run_id, key))
    assert client.get_run(run_id).data.metrics == {
        "f32": 0.5, "f64": 0.25, "i64": 7.0, "f16": 1.5, "array": 0.125, "one": 4.5,
    }


def test_log_batch_takes_numpy_points_and_leaves_the_callers_metrics_alone(client, run_id):
    points = [
        Metric("b", np.float32(2.5), np.int64(T0), np.int64(3)),
        Metric("b", 1.0, T0 + 1, 4),  # plain, between numpy points
        Metric("b", np.float64(-0.75), T0 + 2, np.int16(5)),
        Metric("c", np.int64(9), np.int64(T0), 0),
        Metric("nan", np.float32("nan"), T0, 0),
        Metric("inf", np.float64("inf"), T0, 0),
    ]
    client.log_batch(run_id, metrics=points)

    assert _points(client, run_id, "b") == [(2.5, 3, T0), (1.0, 4, T0 + 1), (-0.75, 5, T0 + 2)]
    assert _points(client, run_id, "c") == [(9.0, 0, T0)]
    _assert_plain(_points(client, run_id, "b"))
    [(nan, _, _)] = _points(client, run_id, "nan")
    assert isinstance(nan, float) and math.isnan(nan)
    assert _points(client, run_id, "inf") == [(float("inf"), 0, T0)]
    assert type(points[0].value) is np.float32 and type(points[0].step) is np.int64  # not rewritten in place


def test_a_large_numpy_batch_goes_through_the_columnar_body(client, run_id):
    steps = np.arange(30_000, dtype=np.int64)
    values = (steps * 0.5).astype(np.float32)
    client.log_batch(run_id, metrics=[Metric("big", v, T0, s) for v, s in zip(values, steps, strict=True)])
    got = _points(client, run_id, "big")
    assert len(got) == 30_000
    assert got[12_345] == (6172.5, 12_345, T0)
    _assert_plain(got[:10])


def test_the_json_ingest_body_takes_numpy_values_too(sqlite_live_server):
    with my.Client(sqlite_live_server.url) as client:
        run_id = client.create_run("0").info.run_id
        client._t.ingest_msgpack = False  # the fallback for servers without MessagePack ingest
        client.log_batch(run_id, metrics=[Metric("j", np.float32(0.5), np.int64(T0), np.int64(1))])
        assert _points(client, run_id, "j") == [(0.5, 1, T0)]


def test_bools_are_numbers_as_in_mlflow(client, run_id):
    client.log_metric(run_id, "flag", True, timestamp=T0)
    client.log_batch(run_id, metrics=[Metric("npflag", np.bool_(False), T0, 0)])
    assert _points(client, run_id, "flag") == [(1.0, 0, T0)]
    assert _points(client, run_id, "npflag") == [(0.0, 0, T0)]


NUMERIC_STRINGS = [("0.5", 0.5), (" 1e-3\n", 0.001), ("7", 7.0), ("1_000", 1000.0), ("-Infinity", -math.inf),
                   ("1e400", math.inf), (b"0.25", 0.25), (bytearray(b"2"), 2.0), (np.str_("0.125"), 0.125),
                   (np.array("4.5"), 4.5)]


def test_numeric_strings_are_numbers_as_in_mlflow(client, run_id):
    for i, (value, _expected) in enumerate(NUMERIC_STRINGS):
        client.log_metric(run_id, f"s{i}", value, timestamp=T0)
    client.log_batch(run_id, metrics=[Metric("batch", "0.5", T0, 1), Metric("batch", b"nan", T0, 2)])
    for i, (_, expected) in enumerate(NUMERIC_STRINGS):
        assert _points(client, run_id, f"s{i}") == [(expected, 0, T0)]
        _assert_plain(_points(client, run_id, f"s{i}"))
    [(half, one, _), (nan, two, _)] = _points(client, run_id, "batch")
    assert (half, one, two) == (0.5, 1, 2) and math.isnan(nan)


def test_fluent_takes_numeric_strings(fluent):
    with my.start_run() as run:
        my.log_metric("x", "0.5", step=1)
        my.log_metrics({"y": "2", "z": b"-1.5"})
        with pytest.raises(InvalidParameterValue, match="metric 'w' must be a number"):
            my.log_metrics({"w": "lots"})
    with my.Client(fluent) as client:
        assert client.get_run(run.info.run_id).data.metrics == {"x": 0.5, "y": 2.0, "z": -1.5}


# What MLflow 3.17's MlflowClient.log_metric does with each, against the same server: stored or refused.
MLFLOW_CASES = {
    "str": "0.5", "padded": " 0.5\n", "underscore": "1_000", "nan": "nan", "neg-inf": "-Infinity", "huge": "1e400",
    "word": "abc", "empty": "", "hex": "0x1p-2", "bytes": b"0.5", "bytes-word": b"x", "bytearray": bytearray(b"3"),
    "true": True, "np-str": np.str_("0.25"), "np-str-array": np.array(["0.5"]), "none": None, "list": [1],
    "complex": 1j, "int-past-float": 10**400,
}


@pytest.mark.parametrize("name", list(MLFLOW_CASES))
def test_metric_values_are_taken_and_refused_as_mlflows_client_does(shared_server, name):
    mlflow = pytest.importorskip("mlflow")
    value = MLFLOW_CASES[name]
    theirs = mlflow.MlflowClient(shared_server.url)
    run_id = theirs.create_run("0").info.run_id
    try:
        theirs.log_metric(run_id, "m", value, timestamp=T0)
        expected: list[float] | None = [m.value for m in theirs.get_metric_history(run_id, "m")]
    except Exception:  # noqa: BLE001 - how MLflow refuses varies (TypeError, OverflowError, RestException)
        expected = None
    with my.Client(shared_server.url) as ours:
        ours_run = ours.create_run("0").info.run_id
        try:
            ours.log_metric(ours_run, "m", value, timestamp=T0)
            got: list[float] | None = [v for v, _, _ in _points(ours, ours_run, "m")]
        except InvalidParameterValue as exc:
            assert "parameter 'value' supplied: metric 'm' must be a number" in str(exc)
            got = None
    if expected is not None and got is not None and math.isnan(expected[0]):
        assert len(got) == 1 and math.isnan(got[0])
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("high", '"high"'),
        ("", '""'),
        ("0x1p-2", '"0x1p-2"'),
        (None, "null"),
        (b"x", '"b\'x\'"'),
        (1 + 2j, '"(1+2j)"'),
        (np.array([1.0, 2.0]), '"[1. 2.]"'),
        (np.array(["high"]), '"high"'),
        (10**400, None),
    ],
    ids=["word", "empty-string", "hex-string", "none", "bytes-word", "complex", "two-element-array",
         "string-array", "int-past-float"],
)
def test_a_value_that_is_no_number_is_refused_naming_the_field(client, run_id, value, shown):
    with pytest.raises(InvalidParameterValue, match=r"parameter 'value' supplied: metric 'm' must be a number") as e:
        client.log_metric(run_id, "m", value)
    if shown:
        assert f"Invalid value {shown} " in str(e.value)
    with pytest.raises(InvalidParameterValue, match=r"parameter 'metrics\[1\]\.value' supplied: metric 'm' must be a number"):
        client.log_batch(run_id, metrics=[Metric("ok", 1.0, T0, 0), Metric("m", value, T0, 0)])
    assert client.get_run(run_id).data.metrics == {}  # nothing of a refused batch is stored


@pytest.mark.parametrize("step", [2.5, 2.0, np.float64(2.0), True, np.bool_(True), "3", None])
def test_a_step_that_is_no_integer_is_refused_as_in_mlflow(client, run_id, step):
    if step is not None:  # None means "no step" to log_metric
        with pytest.raises(InvalidParameterValue, match=r"parameter 'step' supplied: the step of metric 'm' must be an integer"):
            client.log_metric(run_id, "m", 1.0, step=step)
    with pytest.raises(InvalidParameterValue, match=r"'metrics\[0\]\.step' supplied: the step of metric 'm' must be an integer"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, T0, step)])
    with pytest.raises(InvalidParameterValue, match=r"'metrics\[0\]\.timestamp' supplied: the timestamp of metric 'm'"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, step, 0)])
    assert client.get_run(run_id).data.metrics == {}


def test_params_and_tags_are_stored_as_mlflow_stores_them(client, run_id):
    assert client.log_param(run_id, "p_i64", np.int64(3)) == np.int64(3)
    client.log_param(run_id, "p_f32", np.float32(0.1))
    client.log_param(run_id, "p_bool", np.bool_(True))
    client.log_batch(run_id, params=[Param("p_f64", np.float64(0.25))], tags=[RunTag("t_batch", np.int64(5))])
    client.set_tag(run_id, "t_f32", np.float32(1.5))
    data = client.get_run(run_id).data
    assert data.params == {"p_i64": "3", "p_f32": "0.1", "p_bool": "True", "p_f64": "0.25"}
    assert data.tags["t_batch"] == "5" and data.tags["t_f32"] == "1.5"


def test_fluent_logging_takes_numpy_values(fluent):
    with my.start_run() as run:
        my.log_metric("x", np.float32(0.5), step=np.int64(2), timestamp=np.int64(T0))
        my.log_metrics({"y": np.float64(0.25), "z": np.int64(4)}, step=np.int64(7))
        my.log_metric("flag", np.bool_(True), step=1)
        my.log_param("p", np.int64(3))
        my.log_params({"q": np.float32(0.1), "r": np.float64(0.1)})
        my.set_tag("tg", np.float32(0.5))
        my.set_tags({"tg2": np.int64(1)})
    rid = run.info.run_id
    with my.Client(fluent) as client:
        assert _points(client, rid, "x") == [(0.5, 2, T0)]
        assert [(v, s) for v, s, _ in _points(client, rid, "y")] == [(0.25, 7)]
        assert [(v, s) for v, s, _ in _points(client, rid, "z")] == [(4.0, 7)]
        _assert_plain(_points(client, rid, "y"))
        data = client.get_run(rid).data
    assert data.metrics == {"x": 0.5, "y": 0.25, "z": 4.0, "flag": 1.0}
    assert data.params == {"p": "3", "q": "0.1", "r": "0.1"}
    assert data.tags["tg"] == "0.5" and data.tags["tg2"] == "1"


def test_fluent_refuses_at_the_call(fluent):
    with my.start_run() as run:
        with pytest.raises(InvalidParameterValue, match="parameter 'value' supplied: metric 'm' must be a number"):
            my.log_metric("m", "high")
        with pytest.raises(InvalidParameterValue, match="parameter 'step' supplied: the step of metric 'm' must be an integer"):
            my.log_metric("m", 1.0, step=np.float32(1.0))
        with pytest.raises(InvalidParameterValue, match="parameter 'timestamp' supplied"):
            my.log_metrics({"m": 1.0}, timestamp=1.5)
        my.log_metric("ok", np.float32(1.0))
    with my.Client(fluent) as client:
        assert client.get_run(run.info.run_id).data.metrics == {"ok": 1.0}


def test_torch_scalars_as_in_mlflow(client, run_id):
    torch = pytest.importorskip("torch")
    client.log_metric(run_id, "t0", torch.tensor(0.75), step=torch.tensor(3), timestamp=T0)
    client.log_batch(run_id, metrics=[Metric("t1", torch.tensor([0.5], dtype=torch.float32), T0, 1)])
    assert _points(client, run_id, "t0") == [(0.75, 3, T0)]
    assert _points(client, run_id, "t1") == [(0.5, 1, T0)]
    with pytest.raises(InvalidParameterValue, match="metric 't2' must be a number"):
        client.log_metric(run_id, "t2", torch.tensor([0.5, 1.0]))
    with pytest.raises(InvalidParameterValue, match="the step of metric 't3' must be an integer"):
        client.log_metric(run_id, "t3", 1.0, step=torch.tensor(1.0))

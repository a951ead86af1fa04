"""Every protocol and payload format against a real ``modelyard serve`` subprocess."""

from __future__ import annotations

import io
import time

import httpx
import pytest

import modelyard as my


def rows(registered, n=5):
    return registered.frame.iloc[:n]


def expected(registered, n=5):
    return registered.versions[1].predict(rows(registered, n)).tolist()


def payloads(frame):
    cols = list(frame.columns)
    data = frame.values.tolist()
    records = frame.to_dict(orient="records")
    return {
        "dataframe_split": {"dataframe_split": {"columns": cols, "data": data}},
        "dataframe_split_reordered": {"dataframe_split": {"columns": cols[::-1], "data": [r[::-1] for r in data]}},
        "dataframe_records": {"dataframe_records": records},
        "instances_rows": {"instances": data},
        "instances_records": {"instances": records},
        "inputs_columns": {"inputs": {c: frame[c].tolist() for c in cols}},
    }


FORMATS = ["dataframe_split", "dataframe_split_reordered", "dataframe_records", "instances_rows",
           "instances_records", "inputs_columns"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_mlflow_json_formats(served, registered, fmt):
    resp = httpx.post(served.url + "/invocations", json=payloads(rows(registered))[fmt])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": expected(registered)}
    assert resp.headers["x-model-version"] == "1"
    assert resp.headers["x-request-id"]


def test_csv(served, registered):
    buf = io.StringIO()
    rows(registered).to_csv(buf, index=False)
    resp = httpx.post(served.url + "/invocations", content=buf.getvalue(), headers={"Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"] == expected(registered)


def test_single_row_and_params(served, registered):
    record = rows(registered, 1).to_dict(orient="records")[0]
    resp = httpx.post(served.url + "/invocations", json={"inputs": record, "params": {}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"] == expected(registered, 1)


def _bad(registered):
    frame = rows(registered, 2)
    cols = list(frame.columns)
    record = frame.to_dict(orient="records")[0]
    return [
        ({"dataframe_split": {"columns": cols[1:], "data": [r[1:] for r in frame.values.tolist()]}}, "mean radius"),
        ({"dataframe_records": [{**record, "mean texture": "abc"}]}, "mean texture"),
        ({"dataframe_records": [{k: v for k, v in record.items() if k != "worst area"}]}, "worst area"),
        ({"instances": [frame.values.tolist()[0][:-1]]}, "expected 30 values"),
        ({"inputs": {**{c: [v] for c, v in record.items()}, "mean area": ["big"]}}, "mean area"),
        ({"dataframe_split": {"columns": cols, "data": [[*frame.values.tolist()[0][:-1], None, 1]]}}, "values"),
        ({"nothing": 1}, "dataframe_split"),
        ({"dataframe_split": {"columns": cols}}, "data"),
        ({"dataframe_records": {"a": 1}}, "dataframe_records"),
        ({"instances": [record], "inputs": [record]}, "exactly one"),
        ([1, 2, 3], "JSON object"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_bad_payloads_are_400_naming_the_field(served, registered, case):
    body, needle = _bad(registered)[case]
    resp = httpx.post(served.url + "/invocations", json=body)
    assert resp.status_code == 400, resp.text
    assert needle in resp.json()["message"]


@pytest.mark.parametrize("raw,ctype", [(b"{not json", "application/json"), (b"a,b\n1", "text/csv"), (b"", "")])
def test_malformed_bodies_are_400(served, raw, ctype):
    resp = httpx.post(served.url + "/invocations", content=raw, headers={"Content-Type": ctype} if ctype else {})
    assert resp.status_code == 400, resp.text
    assert httpx.get(served.url + "/ping").status_code == 200  # still up


def test_open_inference_protocol(served, registered):
    frame = rows(registered, 3)
    name = registered.name
    assert httpx.get(served.url + "/v2/health/live").json() == {"live": True}
    assert httpx.get(served.url + "/v2/health/ready").json() == {"ready": True}
    meta = httpx.get(f"{served.url}/v2/models/{name}").json()
    assert meta["name"] == name and meta["versions"] == ["1"] and len(meta["inputs"]) == 30
    assert httpx.get(f"{served.url}/v2/models/{name}/ready").json()["ready"] is True
    by_column = {"inputs": [{"name": c, "shape": [3], "datatype": "FP64", "data": frame[c].tolist()}
                            for c in frame.columns], "id": "req-oip-1"}
    as_matrix = {"inputs": [{"name": "x", "shape": [3, 30], "datatype": "FP64",
                             "data": frame.values.reshape(-1).tolist()}]}
    for path in (f"/v2/models/{name}/infer", f"/v2/models/{name}/versions/1/infer"):
        for body in (by_column, as_matrix):
            resp = httpx.post(served.url + path, json=body)
            assert resp.status_code == 200, resp.text
            out = resp.json()
            assert out["model_name"] == name and out["model_version"] == "1"
            assert out["outputs"][0]["data"] == expected(registered, 3)
            assert out["outputs"][0]["shape"] == [3]
    assert httpx.post(served.url + f"/v2/models/{name}/infer", json=by_column).json()["id"] == "req-oip-1"
    assert httpx.post(f"{served.url}/v2/models/other/infer", json=by_column).status_code == 404
    assert httpx.post(f"{served.url}/v2/models/{name}/versions/9/infer", json=by_column).status_code == 404
    bad = {"inputs": by_column["inputs"][1:]}
    resp = httpx.post(f"{served.url}/v2/models/{name}/infer", json=bad)
    assert resp.status_code == 400 and "mean radius" in resp.json()["error"]
    resp = httpx.post(f"{served.url}/v2/models/{name}/infer", json={"inputs": [{"name": "x", "shape": [2]}]})
    assert resp.status_code == 400 and "datatype" in resp.json()["error"]


def test_ping_health_version_openapi_page(served, registered):
    assert httpx.get(served.url + "/ping").status_code == 200
    assert httpx.get(served.url + "/health").status_code == 200
    version = httpx.get(served.url + "/version")
    assert version.json()["model_version"] == "1" and version.headers["x-model-version"] == "1"
    doc = httpx.get(served.url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/invocations" in doc["paths"]
    assert "/v2/models/{name}/infer" in doc["paths"]
    assert "mean radius" in doc["components"]["schemas"]["Record"]["properties"]
    page = httpx.get(served.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    first = registered.frame.iloc[0]["mean radius"]
    assert 'id="c-mean radius"' in page.text and f'value="{first}"' in page.text


def test_metrics(served, registered):
    httpx.post(served.url + "/invocations", json=payloads(rows(registered))["dataframe_split"])
    httpx.post(served.url + "/invocations", json={"nothing": 1})
    text = httpx.get(served.url + "/metrics").text
    assert 'modelyard_serving_requests_total{endpoint="invocations",status="200"}' in text
    assert 'modelyard_serving_requests_total{endpoint="invocations",status="400"}' in text
    assert "modelyard_serving_request_duration_seconds_bucket" in text
    assert "modelyard_serving_batch_size_bucket" in text
    assert f'modelyard_serving_model_info{{name="{registered.name}",uri="models:/{registered.name}/1",version="1"}} 1.0' in text
    assert 'modelyard_serving_predictions_total{value="0",version="1"}' in text
    assert "modelyard_serving_request_log_dropped_total 0.0" in text


def test_request_log_and_feedback(served, registered):
    body = payloads(rows(registered, 2))["dataframe_records"]
    ids = []
    for i in range(3):
        resp = httpx.post(served.url + "/invocations", json=body, headers={"x-request-id": f"log-test-{i}"})
        assert resp.headers["x-request-id"] == f"log-test-{i}"
        ids.append(resp.headers["x-request-id"])
    assert httpx.post(served.url + "/feedback", json={"request_id": ids[0], "label": 1}).json() == {"logged": 1}
    bulk = {"feedback": [{"request_id": ids[1], "label": 0}, {"request_id": ids[2], "label": 1}]}
    assert httpx.post(served.url + "/feedback", json=bulk).json() == {"logged": 2}
    assert httpx.post(served.url + "/feedback", json={"label": 1}).status_code == 400
    client = my.Client(registered.tracking_uri)
    try:
        deadline = time.monotonic() + 20
        found = {}
        while time.monotonic() < deadline and len(found) < 3:
            found = {r.request_id: r for r in client.search_inference_requests(registered.name, 1)
                     if r.request_id in ids}
            time.sleep(0.2)
    finally:
        client.close()
    assert set(found) == set(ids)
    row = found[ids[0]]
    assert row.model_version == "1" and row.latency_ms > 0 and row.label == 1
    assert row.outputs == expected(registered, 2)
    assert row.inputs["columns"][0] == "mean radius" and len(row.inputs["data"]) == 2
    assert found[ids[1]].label == 0

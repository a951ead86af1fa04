"""Bulk cache lookups (service, local and HTTP clients), maps that use them, and batched step recording."""

from __future__ import annotations

import uuid

import httpx
import pytest

import modelyard as my
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.pipelines import pipeline, step
from modelyard.service.pipelines import MAX_CACHE_LOOKUP


def _entries(parent: str, n: int) -> tuple[list[dict], list[dict]]:
    steps, entries = [], []
    for i in range(n):
        run = uuid.uuid4().hex
        steps.append({"pipeline_run_uuid": parent, "task_key": f"s[{i}]", "step": "s", "run_uuid": run, "position": i,
                      "status": "FINISHED", "experiment_id": "0", "tags": {"mlflow.parentRunId": parent, "i": str(i)},
                      "params": {"x": str(i)}})
        entries.append({"cache_key": f"key-{i:04d}", "pipeline": "p", "step": "s", "run_uuid": run,
                        "output": {"kind": "json", "value": i, "hash": f"h{i}"}})
    return steps, entries


def test_bulk_lookup_and_batched_record(service):
    parent = service.runs.create("0", run_name="p").info.run_id
    steps, entries = _entries(parent, 600)  # more than one IN (...) chunk of run ids and of cache keys
    service.pipelines.record({"pipeline_run": {"run_uuid": parent, "pipeline": "p", "status": "RUNNING"},
                              "steps": steps, "cache_entries": entries})
    last = service.runs.get(steps[-1]["run_uuid"])
    assert last.data.tags["i"] == "599" and last.data.params == {"x": "599"} and last.info.status == "FINISHED"
    assert len(service.pipelines.get_run(parent)["steps"]) == 600

    keys = [e["cache_key"] for e in entries] + ["key-0001", "not-cached"]
    found = {e["cache_key"]: e for e in service.pipelines.cache_entries(keys)}
    assert len(found) == 600 and "not-cached" not in found
    assert found["key-0599"] == service.pipelines.cache_entry("key-0599")  # the single lookup's shape
    assert found["key-0007"]["output"]["value"] == 7 and found["key-0007"]["run_id"] == steps[7]["run_uuid"]
    assert service.pipelines.cache_entries([]) == []

    with pytest.raises(InvalidParameterValue, match=f"At most {MAX_CACHE_LOOKUP} cache_keys"):
        service.pipelines.cache_entries([f"k{i}" for i in range(MAX_CACHE_LOOKUP + 1)])
    with pytest.raises(InvalidParameterValue, match="cache_keys must be a list of strings"):
        service.pipelines.cache_entries("key-0001")


def test_a_run_recorded_twice_in_one_batch_ends_as_its_last_record(service):
    parent = service.runs.create("0", run_name="p").info.run_id
    run = uuid.uuid4().hex
    first = {"pipeline_run_uuid": parent, "task_key": "t", "step": "t", "run_uuid": run, "status": "RUNNING",
             "experiment_id": "0", "start_time": 1, "tags": {"modelyard.pipeline.status": "RUNNING"}, "params": {"a": "1"}}
    second = dict(first, status="FINISHED", start_time=2, end_time=5, tags={"modelyard.pipeline.status": "FINISHED"},
                  params={"a": "2"})
    service.pipelines.record({"pipeline_run": {"run_uuid": parent, "pipeline": "p"}, "steps": [first, second]})
    got = service.runs.get(run)
    assert got.info.status == "FINISHED" and got.info.end_time == 5
    assert got.info.start_time == 1  # a later record updates a run's status and end time only
    assert got.data.tags["modelyard.pipeline.status"] == "FINISHED"
    assert got.data.params == {"a": "1"}  # params are write-once, as with one record per call
    assert service.pipelines.get_run(parent)["steps"][0]["status"] == "FINISHED"


def test_bulk_lookup_over_http(sqlite_live_server):
    client = my.Client(sqlite_live_server.url)
    parent = client.create_run("0").info.run_id
    steps, entries = _entries(parent, 5)
    client.record_pipeline({"steps": steps, "cache_entries": entries})
    keys = [e["cache_key"] for e in entries]
    found = client.get_pipeline_cache_entries([*keys, "not-cached"])
    assert sorted(found) == keys
    assert found["key-0003"] == client.get_pipeline_cache_entry("key-0003")

    url = f"{sqlite_live_server.url}/api/2.0/modelyard/pipelines/cache/get-many"
    r = httpx.post(url, json={"cache_keys": [f"k{i}" for i in range(MAX_CACHE_LOOKUP + 1)]})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "cache_keys" in r.json()["message"]
    r = httpx.post(url, json={"cache_keys": "key-0001"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"]


@step
def double(x: int) -> int:
    return 2 * x


@step
def numbers(n: int) -> list:
    return list(range(n))


@pipeline(name="cache_lookup_map")
def doubled(n: int = 5):
    return double.map(numbers(n))


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_map_cache_hits(store, executor):
    first = doubled.run({"n": 5}, executor=executor)
    assert first.output == [0, 2, 4, 6, 8]
    second = doubled.run({"n": 6}, executor=executor)  # five hits looked up together, one new item, a new source
    assert second.output == [0, 2, 4, 6, 8, 10]
    status = {k: t.status for k, t in second.tasks.items()}
    assert status == {"numbers": "FINISHED", **{f"double[{i}]": "CACHED" for i in range(5)}, "double[5]": "FINISHED"}
    client = my.Client(store)
    record = {s.task_key: s for s in client.get_pipeline_run(second.run_id).steps}
    assert record["double[2]"].cached_from == first.tasks["double[2]"].run_id
    hits = {e["run_id"]: e["hits"] for e in client.list_pipeline_cache("cache_lookup_map", "double")}
    assert [hits[first.tasks[f"double[{i}]"].run_id] for i in range(5)] == [1] * 5
    assert hits[second.tasks["double[5]"].run_id] == 0


def test_checks_still_name_the_field_when_keys_repeat(service):
    parent = service.runs.create("0", run_name="p").info.run_id
    steps, _ = _entries(parent, 3)
    long_tag = [dict(s) for s in steps]
    long_tag[2] = dict(steps[2], tags={"mlflow.parentRunId": parent, "i": "x" * 8001})  # "i" passed on steps 0 and 1
    with pytest.raises(InvalidParameterValue, match=r"steps\[2\]\.tags\[1\]\.value"):
        service.pipelines.record({"steps": long_tag})
    long_param = [dict(s) for s in steps]
    long_param[1] = dict(steps[1], params={"x": "y" * 6001})
    with pytest.raises(InvalidParameterValue, match=r"steps\[1\]\.params\[0\]\.value"):
        service.pipelines.record({"steps": long_param})
    bad_parent = [dict(s) for s in steps]
    bad_parent[1] = dict(steps[1], pipeline_run_uuid=["not", "an", "id"])
    with pytest.raises(InvalidParameterValue, match=r"steps\[1\]\.pipeline_run_uuid"):
        service.pipelines.record({"steps": bad_parent})
    with pytest.raises(ResourceDoesNotExist):  # nothing of the refused batches was written
        service.runs.get(steps[0]["run_uuid"])

"""Run reads as wire dicts (search pages, runs/get, history) say what the entities say, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import msgspec

from modelyard.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

VALUES = [0.1 + 0.2, float("nan"), float("inf"), float("-inf"), 5e-324, 12.0, -0.0]


def _wire(obj: object) -> object:
    """What a client reads: the JSON text parsed back."""
    return json.loads(msgspec.json.encode(obj))


def _seed(service) -> tuple[str, list[str]]:
    eid = service.experiments.create("reads")
    ids = []
    for i in range(14):
        tags = {"t": f"v{i % 4}", "ünï": 'quote " back\\slash\nline'}
        run_id = service.runs.create(eid, start_time=1000 + i % 3, tags=tags).info.run_id
        params = [Param(f"p{j}", f"{i % 5}-{j}") for j in range(3)]
        metrics = [Metric("m", VALUES[i % len(VALUES)], 5, i), Metric("z", float(i), 1, 0)]
        if i % 4 == 0:
            metrics = metrics[1:]  # some runs lack "m"
        service.runs.log_batch(run_id, metrics, params, [RunTag("empty", "")])
        ids.append(run_id)
    service.runs.log_inputs(ids[0], [DatasetInput(Dataset("d", "dig", "local", "src", "sch", None),
                                                  [InputTag("mlflow.data.context", "train")])])
    service.runs.log_inputs(ids[1], [DatasetInput(Dataset("e", "dig2", "local", "src2"))])
    return eid, ids


def test_search_pages_match_the_runs_in_every_order(service):
    eid, ids = _seed(service)
    for order in (None, ["metrics.m DESC"], ["metrics.m ASC"], ["params.p0 ASC"], ["tags.t DESC"]):
        for size in (3, 100):
            token, seen = None, []
            while True:
                page = service.runs.search_dicts([eid], max_results=size, order_by=order, page_token=token)
                runs = service.runs.search([eid], max_results=size, order_by=order, page_token=token)
                assert page.next_page_token == runs.next_page_token
                # params and tags come as JSON written by the database: the client reads the same runs
                assert _wire(page.items) == _wire([r.to_dict() for r in runs.items]), (order, size)
                seen += [r.info.run_id for r in runs.items]
                token = page.next_page_token
                if token is None:
                    break
            assert sorted(seen) == sorted(ids)
    first = _wire(service.runs.get_dict(ids[0]))
    assert first["inputs"]["dataset_inputs"] == [{
        "dataset": {"name": "d", "digest": "dig", "source_type": "local", "source": "src", "schema": "sch"},
        "tags": [{"key": "mlflow.data.context", "value": "train"}],
    }]
    assert {"key": "ünï", "value": 'quote " back\\slash\nline'} in first["data"]["tags"]
    assert {"key": "empty", "value": ""} in first["data"]["tags"]


def test_get_and_history_dicts_match_the_entities(service):
    _, ids = _seed(service)
    for run_id in ids:
        assert _wire(service.runs.get_dict(run_id)) == _wire(service.runs.get(run_id).to_dict())
    run_id = ids[1]
    points = [Metric("h", VALUES[i % len(VALUES)], 100 + i, i // 2) for i in range(40)]
    service.runs.log_batch(run_id, points)
    for size in (None, 7):
        page = service.runs.metric_history_dicts(run_id, "h", size)
        objects = service.runs.metric_history(run_id, "h", size)
        assert page.next_page_token == objects.next_page_token
        assert _wire(page.items) == _wire([m.to_dict() for m in objects.items])
    values = [m["value"] for m in _wire(service.runs.metric_history_dicts(run_id, "h").items)]
    assert {"NaN", "Infinity", "-Infinity", 0.30000000000000004, 5e-324} <= set(values)


def test_big_experiments_walk_the_sort_index_and_small_ones_do_not(service):
    from modelyard.entities.query import OrderKey

    big, small = service.experiments.create("big"), service.experiments.create("small")
    for eid, n in ((big, 16), (small, 2)):
        for i in range(n):
            run_id = service.runs.create(eid, start_time=i).info.run_id
            service.runs.log_batch(run_id, [Metric("m", float(i), 0, 0)], [], [])
    db = service.store.db
    if not db.is_sqlite:
        with db.engine.connect() as conn:  # the walk waits for statistics on PostgreSQL
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    order = [OrderKey("metric", "m", False)]
    store = service.store.runs
    with db.fast_read() as tx:
        # need 2 rows: the bar is max(8 * 2, 18 // 4) = 16 runs in the searched experiments, exactly what big holds
        assert store._walk_sort_index(tx, [int(big)], order, 2) is True
        assert store._walk_sort_index(tx, [int(big), int(small)], order, 2) is True
        assert store._walk_sort_index(tx, [int(small)], order, 2) is False
        assert store._walk_sort_index(tx, [int(big)], order, 3) is False  # bar 24 > 16 runs
        assert store._walk_sort_index(tx, [int(big)], [], 2) is False
    top = service.runs.search_dicts([big], max_results=2, order_by=["metrics.m DESC"]).items
    assert [r["data"]["metrics"][0]["value"] for r in top] == [15.0, 14.0]


def test_new_run_ids_are_random_uuid4_hex(service):
    """Run ids are what ``uuid.uuid4().hex`` gives: 32 hex digits, version 4, the RFC 4122 variant."""
    import uuid

    from modelyard.service.runs import new_run_id

    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    for rid in ids:
        parsed = uuid.UUID(hex=rid)
        assert parsed.hex == rid and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    bits = [int(rid, 16) for rid in ids]
    # every other bit takes both values across the ids (random, not fixed by the masks)
    fixed = 0xF000 << 64 | 0xC000 << 48
    varying = 0
    for b in bits:
        varying |= b ^ bits[0]
    assert varying == ((1 << 128) - 1) & ~fixed
    exp = service.experiments.create("ids")
    run = service.runs.create(exp)
    assert uuid.UUID(hex=run.info.run_id).version == 4 and service.runs.get(run.info.run_id).info.run_id == run.info.run_id

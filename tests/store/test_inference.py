"""The request log's bulk insert (SQLite and PostgreSQL): every row of a large batch stored once, retried rows too."""

from __future__ import annotations

ROWS = 300  # more than a serving flush usually holds at once


def _rows(ids):
    return [{"request_id": f"r{i}", "model_name": "m", "model_version": "1", "timestamp_ms": 1000 + i,
             "latency_ms": i / 4, "inputs": {"x": [i, None, "é"]}, "outputs": [i % 3]} for i in ids]


def test_a_large_batch_is_stored_once_per_request_id(service):
    n = ROWS
    ids = list(range(n))
    # a row twice in one batch, and rows already stored by an earlier batch
    assert service.inference.log_requests(_rows(range(5))) == 5
    batch = _rows(ids) + _rows([3])
    assert service.inference.log_requests(batch) == n + 1
    found = service.inference.search("m", "1", max_results=n + 50)
    assert sorted(int(r.request_id[1:]) for r in found) == ids
    by_id = {r.request_id: r for r in found}
    last = by_id[f"r{n - 1}"]
    assert last.inputs == {"x": [n - 1, None, "é"]} and last.outputs == [(n - 1) % 3]
    assert last.timestamp_ms == 1000 + n - 1 and last.latency_ms == (n - 1) / 4


def test_a_single_row(service):
    assert service.inference.log_requests(_rows([7])) == 1
    (found,) = service.inference.search("m", "1")
    assert (found.request_id, found.inputs, found.outputs) == ("r7", {"x": [7, None, "é"]}, [1])

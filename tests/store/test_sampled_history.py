"""The sampled history chosen in SQL picks exactly the points MLflow's sampling picks in Python."""

from __future__ import annotations

from modelyard.entities import Metric


def mlflow_sample(rows: list[tuple[int, int, float]], k: int) -> list[tuple[int, int, float]]:
    """MLflow's sampling: the first row of each of ``k`` NTILE buckets, always ending on the last row."""
    n = len(rows)
    if n <= k:
        return rows
    if k == 1:
        return [rows[-1]]
    size, extra = divmod(n, k)
    picked, start = [], 0
    for bucket in range(k):
        picked.append(rows[start])
        start += size + (1 if bucket < extra else 0)
    picked[-1] = rows[-1]
    return picked


def test_sql_sampling_matches_mlflow(service):
    exp = service.experiments.create("sampling")
    sizes = (1, 2, 9, 10, 11, 99, 101, 1003)
    runs: dict[str, list[tuple[int, int, float]]] = {}
    for n, contiguous in [(n, True) for n in sizes] + [(n, False) for n in sizes if n > 2]:
        rid = service.runs.create(exp).info.run_id
        # One point per step from step 5 (sampled in SQL), or steps logged twice (another timestamp)
        # with gaps (sampled in Python): the order is (step, timestamp, value) either way.
        points = [(5 + i if contiguous else i // 3 * 2, 1000 + i, float(i % 17)) for i in range(n)]
        for start in range(0, n, 1000):
            service.runs.log_batch(rid, [Metric("m", v, ts, step) for step, ts, v in points[start:start + 1000]])
        runs[rid] = sorted(points)
    for k in (1, 2, 3, 7, 10, 100, 400):
        got = service.runs.metric_history_bulk_interval(list(runs), "m", max_results=k)
        for rid, rows in runs.items():
            mine = [(m.step, m.timestamp, m.value) for m in got if m.run_id == rid]
            assert mine == mlflow_sample(rows, k), (len(rows), k)
        # The runs come back in the order asked for.
        assert list(dict.fromkeys(m.run_id for m in got)) == list(runs)

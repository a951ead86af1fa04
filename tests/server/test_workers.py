"""Several server processes over one store behave as one server."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.conftest import LiveServer


def test_two_workers_share_one_store(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite'}", str(tmp_path / "artifacts"), "--workers", "2")
    try:
        api = server.url + "/api/2.0/mlflow"
        exp = httpx.post(f"{api}/experiments/create", json={"name": "w"}).json()["experiment_id"]
        run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]

        def log(i: int) -> int:
            with httpx.Client() as c:  # a new connection each time, so both workers get requests
                body = {"run_id": run_id, "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": i}]}
                return c.post(f"{api}/runs/log-batch", json=body).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(log, range(60)))
        assert statuses == [200] * 60
        history = httpx.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
        assert sorted(p["step"] for p in history["metrics"]) == list(range(60))
    finally:
        server.stop()

"""``modelyard serve --workers 2``: several processes on one port, each with the model loaded."""

from __future__ import annotations

import httpx

from tests.serving.conftest import ServeProcess
from tests.serving.test_protocols import expected, rows


def test_two_workers_answer_every_request(registered):
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--workers", "2",
                        env={"MODELYARD_TRACKING_URI": registered.tracking_uri})
    try:
        body = {"dataframe_records": rows(registered).to_dict(orient="records")}
        answers = []
        for _ in range(40):
            with httpx.Client(timeout=30) as client:  # a new connection each time: either worker may take it
                answers.append(client.post(proc.url + "/invocations", json=body))
        assert [r.status_code for r in answers] == [200] * 40
        assert all(r.json() == {"predictions": expected(registered)} for r in answers)
        assert {r.headers["x-model-version"] for r in answers} == {"1"}
        assert proc.proc.poll() is None
    finally:
        proc.stop()

"""Class probabilities through a real ``modelyard serve``: kept in the request log, estimated before labels (CBPE),
the realised scores beside the estimate once labels arrive (JSON and the monitor's page)."""

from __future__ import annotations

import time
import uuid

import httpx
import numpy as np

import modelyard as my
from tests.serving.conftest import ServeProcess, register


def _wait_rows(client: my.Client, name: str, want: int) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    rows: list = []  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        rows = client.search_inference_requests(name, "1", max_results=1000)
        if len(rows) >= want:
            break
        time.sleep(0.2)
    return rows


def test_served_probabilities_give_an_estimate_then_the_realised_scores_beside_it(live_server):
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import accuracy_score, roc_auc_score

    reg = register(live_server.url, f"proba-{uuid.uuid4().hex[:8]}", versions=1)
    clf = reg.versions[1]
    target = load_breast_cancer(as_frame=True).target
    client = my.Client(live_server.url)
    client.set_reference_profile(reg.name, 1, my.monitoring.profile(reg.frame))
    proc = ServeProcess(reg.uri(), live_server.url, "--poll-interval", "0")
    sent: list[tuple[str, list[int]]] = []
    try:
        for start in range(0, 160, 2):  # 80 requests of 2 rows
            rows = reg.frame.iloc[start:start + 2]
            r = httpx.post(proc.url + "/invocations", json={"dataframe_records": rows.to_dict(orient="records")})
            assert r.status_code == 200
            sent.append((r.headers["x-request-id"], list(range(start, start + 2))))
        logged = _wait_rows(client, reg.name, len(sent))
    finally:
        proc.stop()
    assert len(logged) == len(sent)
    by_id = {r.request_id: r for r in logged}
    expected = clf.predict_proba(reg.frame.iloc[:160])
    for request_id, idx in sent:
        probs = by_id[request_id].probabilities
        assert probs["classes"] == [0, 1]
        assert np.allclose(probs["data"], expected[idx], atol=1e-6)

    # Before any label: the estimate from the served probabilities, no realised score.
    client.create_monitor("proba-live", reg.name, alias="champion", task="classification")
    first = client.run_monitor("proba-live")
    est = first["report"]["estimated_performance"]
    assert est["rows"] == 160 and est["positive"] == 1
    p = expected[:, 1]
    assert abs(first["metrics"]["estimated_accuracy"] - float(np.mean(np.maximum(p, 1 - p)))) < 1e-5
    assert "accuracy" not in first["metrics"] and "estimate_vs_realised" not in first["report"]

    # Labels for the first 100 rows arrive: realised scores, beside the estimate over the same rows.
    client.log_inference_feedback([{"request_id": rid, "label": [int(target[i]) for i in idx]}
                                   for rid, idx in sent[:50]])
    second = client.run_monitor("proba-live")
    labelled = [i for _, idx in sent[:50] for i in idx]
    truth, pred = target.iloc[labelled].to_numpy(), clf.predict(reg.frame.iloc[labelled])
    assert second["labelled"] == 100
    assert abs(second["metrics"]["accuracy"] - accuracy_score(truth, pred)) < 1e-9
    assert abs(second["metrics"]["roc_auc"] - roc_auc_score(truth, expected[labelled, 1])) < 1e-6
    versus = second["report"]["estimate_vs_realised"]
    assert versus["rows"] == 100
    q = expected[labelled, 1]
    assert abs(versus["metrics"]["accuracy"]["estimated"] - float(np.mean(np.maximum(q, 1 - q)))) < 1e-5
    assert versus["metrics"]["accuracy"]["realised"] == second["metrics"]["accuracy"]
    assert second["metrics"]["estimated_accuracy"] == first["metrics"]["estimated_accuracy"]  # still the window's

    page = httpx.get(f"{live_server.url}/monitors/proba-live")
    assert page.status_code == 200
    assert "estimated and realised" in page.text and "realised on the 100 row(s)" in page.text
    client.close()

"""Against a live server: monitors through the SDK over HTTP, a scheduled run, a signed alert webhook, /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modelyard as my
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from tests.conftest import LiveServer
from tests.webhooks.conftest import SECRET, Receiver, receiver  # noqa: F401  (the fixture)

from .conftest import reference_frame, requests


@pytest.fixture
def server(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:  # noqa: F811
    monkeypatch.setenv("MODELYARD_MONITOR_POLL_INTERVAL", "0.5")
    monkeypatch.setenv("MODELYARD_WEBHOOK_POLL_INTERVAL", "0.2")
    live = LiveServer(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "artifacts"))
    try:
        yield live
    finally:
        live.stop()


def test_scheduled_monitor_alerts_through_a_signed_webhook(server: LiveServer, receiver: Receiver) -> None:  # noqa: F811
    c = my.Client(server.url)
    c.create_registered_model("churn")
    mv = c.create_model_version("churn", "s3://bucket/churn/1")
    c.set_registered_model_alias("churn", "champion", mv.version)
    c.set_reference_profile("churn", mv.version, my.monitoring.profile(reference_frame()))
    assert c.get_reference_profile("churn", 1)["rows"] == 2000
    c.create_webhook("alerts", receiver.url, ["monitor_alert.fired"], secret=SECRET)
    # Traffic whose distribution shifted, and labels for part of it.
    c.log_inference_requests(requests(mv.version, 500, shift=20))
    c.log_inference_feedback([{"request_id": f"r{i}", "label": i % 2} for i in range(200)])

    with pytest.raises(InvalidParameterValue, match="interval_s"):
        c.create_monitor("bad", "churn", alias="champion", interval_s=3)
    with pytest.raises(ResourceDoesNotExist):
        c.run_monitor("missing")
    created = c.create_monitor("churn-live", "churn", alias="champion", task="classification", interval_s=10,
                               rules=[{"metric": "share_drifted", "op": ">", "threshold": 0.3}])
    assert [m["name"] for m in c.list_monitors("churn")] == ["churn-live"] and created["interval_s"] == 10

    got = receiver.wait_for(1, timeout=60, where=lambda d: d.event == "monitor_alert.fired")
    assert got, "no alert webhook arrived"
    assert got[0].signature_ok()
    data = got[0].json["data"]
    assert data["monitor_name"] == "churn-live" and data["metric"] == "share_drifted" and data["value"] >= 0.5
    results = c.monitor_results("churn-live")
    assert results and results[0]["labelled"] == 200 and results[0]["metrics"]["dataset_drift"] == 1.0
    alert = c.list_alerts("churn-live")[0]
    assert c.acknowledge_alert(alert["id"], "ops")["status"] == "acknowledged"

    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(server.url + "/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))) for f in text_string_to_metric_families(text) for s in f.samples}
    base = (("model", "churn"), ("monitor", "churn-live"), ("version", "1"))
    assert ("modelyard_monitor_metric", tuple(sorted((*base, ("metric", "share_drifted"))))) in samples
    assert ("modelyard_monitor_feature_drift", tuple(sorted((*base, ("feature", "age"))))) in samples


def test_bad_requests_are_400_naming_the_field(server: LiveServer) -> None:
    base = server.url + "/api/2.0/modelyard/monitoring"
    for path, body, field in (
        ("/monitors/create", {"name": "m"}, "model_name"),
        ("/monitors/create", {"name": "m", "model_name": "x", "window_rows": "many"}, "window_rows"),
        ("/references/set", {"model_name": "x", "version": "1"}, "profile"),
        ("/alerts/acknowledge", {"alert_id": "abc"}, "alert_id"),
    ):
        resp = httpx.post(base + path, json=body)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")
        assert field in resp.json()["message"], resp.text
    resp = httpx.get(base + "/monitors/get", params={"name": "none"})
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert httpx.get(server.url + "/metrics").status_code == 200

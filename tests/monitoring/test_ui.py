"""The monitor pages: the list, one monitor with its scores and alerts, its latest report."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from modelyard.server.app import create_app

from .conftest import requests


@pytest.mark.parametrize("db_uri", ["sqlite"], indirect=True)
def test_monitor_pages(service) -> None:  # type: ignore[no-untyped-def]
    service.inference.log_requests(requests("1", 300, shift=20))
    service.monitoring.create_monitor("live", "churn", alias="champion",
                                      rules=[{"metric": "share_drifted", "op": ">", "threshold": 0.3}])
    service.monitoring.run_monitor("live")
    with TestClient(create_app(service=service), follow_redirects=False) as client:
        listing = client.get("/monitors")
        assert listing.status_code == 200 and 'href="/monitors/live"' in listing.text and "@champion" in listing.text
        page = client.get("/monitors/live")
        assert page.status_code == 200 and "share_drifted = 0.5 &gt; 0.3" in page.text and "/runs/" in page.text
        report = client.get("/monitors/live/report")
        assert report.status_code == 200 and "Drift per column" in report.text and report.text.count("<svg") == 2
        assert "(sketch)" in report.text and "Data quality" in report.text
        version = client.get("/models/churn/versions/1")  # the version's monitoring tab
        assert version.status_code == 200 and 'id="monitoring"' in version.text
        section = version.text.split('id="monitoring"', 1)[1].split("</section>", 1)[0]
        assert 'href="/monitors/live"' in section and "@champion" in section and "share_drifted" in section
        assert "share_drifted = 0.5 &gt; 0.3" in section and "Reference profile: 2000 rows" in section
        missing = client.get("/monitors/nope")
        assert missing.status_code == 404 and "Monitor &#39;nope&#39; not found" in missing.text

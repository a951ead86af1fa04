"""The trace pages in process (no browser): the list with filters and keyset pages, a trace's outline,
a span's details, links from the experiment and run pages, escaping and errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from modelyard.server import create_app
from modelyard.service import TrackingService

from .conftest import with_csrf_token
from .seed import settings_for
from .trace_seed import XSS, TraceSeed, seed_traces

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[httpx.Client, TraceSeed]]:
    from starlette.testclient import TestClient

    folder = tmp_path_factory.mktemp("traces-ui")
    svc = TrackingService(settings_for(f"sqlite:///{folder / 'ui.db'}", str(folder / "artifacts")))
    seeded = seed_traces(svc, svc.experiments.create("rag"))
    try:
        with TestClient(create_app(service=svc), follow_redirects=False) as client:
            with_csrf_token(client)
            yield client, seeded
    finally:
        svc.close()


def outline(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="span-outline">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def trace_links(html: str) -> list[str]:
    return re.findall(r'href="/traces/(tr-[0-9a-f]{32})"', html)


def test_list_shows_columns_and_pages_by_keyset(site):
    client, s = site
    r = client.get(f"/experiments/{s.experiment_id}/traces", params={"n": 25})
    assert r.status_code == 200
    assert trace_links(r.text)[:3] == [f"tr-{109:032x}", f"tr-{108:032x}", f"tr-{107:032x}"]
    assert len(trace_links(r.text)) == 12
    row = r.text[r.text.index(f"/traces/{s.small}"):]
    row = row[:row.index("</tr>")]
    assert "40 ms" in row and ">150<" in row and "status-ok" in row and "refund policy" in row
    seen: list[str] = []
    url = f"/experiments/{s.experiment_id}/traces?n=25&q=ping"
    for _ in range(5):  # bounded
        html = client.get(url.replace("n=25", "n=25")).text
        seen += trace_links(html)
        nxt = re.search(r'id="traces-next" href="([^"]+)"', html)
        if nxt is None:
            break
        url = nxt.group(1).replace("&amp;", "&")
    assert sorted(seen) == sorted(f"tr-{100 + i:032x}" for i in range(10))


def test_filter_grammar_and_bad_filter(site):
    client, s = site
    base = f"/experiments/{s.experiment_id}/traces"
    html = client.get(base, params={"q": "span.name = 'retrieve'"}).text
    assert trace_links(html) == [s.small]
    html = client.get(base, params={"q": "trace.execution_time_ms > 10", "order": "latency"}).text
    assert trace_links(html) == [s.small, s.big]
    r = client.get(base, params={"q": "span.name =="})
    assert r.status_code == 400 and 'id="traces-error"' in r.text
    assert client.get(base, params={"q": "span.name =="}, headers=HX).status_code == 200


def test_trace_page_sends_a_compact_outline_of_every_span(site):
    client, s = site
    r = client.get(f"/traces/{s.big}")
    assert r.status_code == 200
    o = outline(r.text)
    assert len(o["ids"]) == s.big_spans and len(o["parent"]) == s.big_spans
    assert o["parent"][0] == -1 and o["name"][0] == "agent" and o["type"][0] == "AGENT"
    assert all(0 <= p < i for i, p in enumerate(o["parent"]) if i)  # parents precede children (by start)
    assert o["start"][0] == 0 and o["dur"][0] == s.big_spans * 10
    assert o["total"] == max(a + d for a, d in zip(o["start"], o["dur"], strict=True))
    assert "mlflow.spanInputs" not in r.text  # no span content in the page
    assert len(r.content) < 200 * s.big_spans


def test_span_details_escape_and_show_payloads(site):
    client, s = site
    html = client.get(f"/traces/{s.small}").text
    assert XSS not in html
    o = outline(html)
    assert o["name"][0] == XSS and o["status"][2] == "ERROR"  # JSON in the page, decoded by the script
    assert "150 tokens" in html and f'href="/runs/{s.run_id}"' in html and "s-1" in html
    detail = client.get(f"/traces/{s.small}/spans/{1:016x}", headers=HX)
    assert detail.status_code == 200
    assert XSS not in detail.text and "&lt;script&gt;" in detail.text
    assert "What is the refund policy?" in detail.text and "30 days" in detail.text
    assert "retriever.top_k" in client.get(f"/traces/{s.small}/spans/{2:016x}").text


def test_missing_and_bad_ids_are_error_pages(site):
    client, s = site
    for url, status in ((f"/traces/tr-{999:032x}", 404), ("/traces/nope!", 400),
                        (f"/traces/{s.small}/spans/{99:016x}", 404), (f"/traces/{s.small}/spans/xyz", 400),
                        ("/experiments/999/traces", 404)):
        r = client.get(url)
        assert r.status_code == status, url
        assert r.headers["content-type"].startswith("text/html") and 'role="alert"' in r.text


def test_experiment_and_run_pages_link_to_traces(site):
    client, s = site
    assert f'href="/experiments/{s.experiment_id}/traces"' in client.get(f"/experiments/{s.experiment_id}").text
    run_html = client.get(f"/runs/{s.run_id}").text
    link = re.search(r'id="run-traces" href="([^"]+)"', run_html)
    assert link is not None
    assert trace_links(client.get(link.group(1).replace("&amp;", "&")).text) == [s.small]

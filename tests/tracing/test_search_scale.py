"""Trace search over many traces (SQLite and PostgreSQL): a filter on a rare value is answered from
the traces its index names (``TraceStore._narrowest``), a common one by the newest-first scan; both
give the same pages, in the same order, paged by keyset, with the other filters still applied."""

from __future__ import annotations

import pytest

from modelyard.entities.traces import Span
from modelyard.store import traces as trace_store

from ..conftest import make_service

T0 = 1_800_000_000_000 * 1_000_000


def _load(svc, exp: str, n: int) -> None:
    spans = []
    for i in range(n):
        hex_id = f"{i + 1:032x}"
        start = T0 + i * 1_000_000_000
        spans.append(Span("tr-" + hex_id, f"{2 * i + 1:016x}", None, "rare" if i % 10 == 3 else "chain", "CHAIN",
                          "ERROR" if i % 4 == 0 else "OK", None, start, start + 5_000_000, {}, otel_trace_id=hex_id))
        spans.append(Span("tr-" + hex_id, f"{2 * i + 2:016x}", f"{2 * i + 1:016x}",
                          "rare-tool" if i % 10 == 7 else "step", "LLM", "OK", None, start + 1, start + 4_000_000,
                          {"model": f"m-{i % 3}"}, otel_trace_id=hex_id))
    svc.traces.log_spans(exp, spans)
    for i in range(n):
        svc.traces.set_tag(f"tr-{i + 1:032x}", "customer", f"c-{i % 7}")


def _pages(svc, exp: str, flt: str, size: int) -> list[list[str]]:
    pages, token = [], None
    for _ in range(50):
        infos, token = svc.traces.search([exp], flt, max_results=size, page_token=token)
        pages.append([i.trace_id for i in infos])
        if not token:
            return pages
    raise AssertionError("paging did not end")


FILTERS = [
    "tags.customer = 'c-3'",
    "tags.customer = 'c-3' AND trace.status = 'ERROR'",
    "span.name = 'rare-tool'",
    "span.name = 'rare-tool' AND tags.customer = 'c-0'",
    "span.type = 'LLM' AND span.name = 'rare-tool'",
    "span.attributes.model = 'm-2'",
    "trace.name = 'rare'",
    "trace.status = 'ERROR' AND span.attributes.model = 'm-1'",
    "tags.customer = 'nobody'",
    "span.name IN ('rare-tool', 'nothing')",
    "span.name LIKE 'rare%'",
    "span.name ILIKE 'RARE-%' AND trace.status = 'OK'",
    "tags.customer LIKE 'c-3%'",
    "span.attributes.model LIKE '%-2' AND tags.customer = 'c-1'",
    "span.name LIKE 'nothing%'",
]


@pytest.mark.parametrize("flt", FILTERS)
def test_rare_value_pages_match_the_scan(db_uri, tmp_path, monkeypatch, flt):
    svc = make_service(db_uri, tmp_path)
    try:
        exp = svc.experiments.create("scale")
        other = svc.experiments.create("other")
        _load(svc, exp, 60)
        svc.traces.log_spans(other, [Span("tr-" + "f" * 32, "f" * 16, None, "rare", "CHAIN", "OK", None, T0, T0 + 1,
                                          {"model": "m-2"}, otel_trace_id="f" * 32)])
        svc.traces.set_tag("tr-" + "f" * 32, "customer", "c-3")
        monkeypatch.setattr(trace_store, "PROBE_LIMIT", 1000)  # every value here is rare: from its index
        narrowed = _pages(svc, exp, flt, 4)
        monkeypatch.setattr(trace_store, "PROBE_LIMIT", 1)  # none is: the scan, newest first
        scanned = _pages(svc, exp, flt, 4)
        assert narrowed == scanned
        found = [tid for page in narrowed for tid in page]
        assert "tr-" + "f" * 32 not in found  # the other experiment's trace holds the values too
        if "nobody" in flt or "nothing%" in flt:
            assert found == []
        else:
            assert found and len(set(found)) == len(found)
            starts = [int(tid[3:], 16) for tid in found]
            assert starts == sorted(starts, reverse=True)  # newest first across pages
    finally:
        svc.close()


def test_rare_filter_counts(db_uri, tmp_path):
    svc = make_service(db_uri, tmp_path)
    try:
        exp = svc.experiments.create("scale")
        _load(svc, exp, 40)
        count = lambda flt: len(svc.traces.search([exp], flt, max_results=1000)[0])  # noqa: E731
        assert count("tags.customer = 'c-3'") == len([i for i in range(40) if i % 7 == 3])
        assert count("span.name = 'rare-tool'") == 4
        assert count("span.name = 'rare-tool' AND trace.status = 'ERROR'") == 0  # i % 10 == 7 is never i % 4 == 0
        assert count("trace.name = 'rare' AND trace.status = 'ERROR'") == len(
            [i for i in range(40) if i % 10 == 3 and i % 4 == 0])
        assert count("span.attributes.model = 'm-0' AND tags.customer = 'c-0'") == len(
            [i for i in range(40) if i % 3 == 0 and i % 7 == 0])
    finally:
        svc.close()

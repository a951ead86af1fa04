"""The trace service over a real store (SQLite and PostgreSQL): ingest, keyset pages, paged spans, delete."""

from __future__ import annotations

import json

import pytest

from modelyard.entities.traces import Span
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.service.traces_search import parse_filter, parse_order_by


def _span(trace: int, span: int, parent: int | None, start_ms: int, **attributes) -> Span:
    return Span(
        trace_id=f"tr-{trace:032x}", span_id=f"{span:016x}", parent_span_id=None if parent is None else f"{parent:016x}",
        name="root" if parent is None else f"step-{span % 3}", type="LLM" if span % 2 else "TOOL", status="OK",
        status_message=None, start_time_ns=start_ms * 1_000_000, end_time_ns=start_ms * 1_000_000 + 5_000_000,
        attributes=attributes, otel_trace_id=f"{trace:032x}",
    )


def test_keyset_pages_cover_every_trace_once_with_equal_timestamps(service):
    # 250 traces, five per millisecond: the page boundaries fall inside runs of equal timestamps.
    service.traces.log_spans("0", [_span(t, 1, None, 1_000 + t // 5) for t in range(1, 251)])
    seen: list[str] = []
    token = None
    for _ in range(20):
        infos, token = service.traces.search(["0"], max_results=40, page_token=token)
        seen += [i.trace_id for i in infos]
        if not token:
            break
    assert len(seen) == 250 and len(set(seen)) == 250
    times = [int(t[3:], 16) // 5 for t in seen]
    assert times == sorted(times, reverse=True)


def test_ingest_makes_a_trace_from_its_root_span_and_spans_page(service):
    spans = [_span(7, 1, None, 5_000, **{"mlflow.spanInputs": {"q": "hi"}, "mlflow.spanOutputs": "HI"})]
    spans += [_span(7, i, 1, 5_000 + i, model="tiny", i=i) for i in range(2, 12)]
    service.traces.log_spans("0", spans[6:])
    service.traces.log_spans("0", spans[:6] + spans[6:8])  # a span sent twice is stored once
    info = service.traces.get_info(f"tr-{7:032x}")
    assert info.state == "OK" and info.request_time_ms == 5_000 and info.execution_time_ms == 5
    assert info.request_preview == '{"q":"hi"}' and info.response_preview == "HI"
    assert info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    pages, token = [], None
    for _ in range(5):
        _, spans_page, token = service.traces.get_trace(f"tr-{7:032x}", max_spans=4, page_token=token)
        pages.append([s.span_id for s in spans_page])
        if not token:
            break
    flat = [s for page in pages for s in page]
    assert [len(p) for p in pages] == [4, 4, 3]
    assert flat[0] == f"{1:016x}" and flat[1:] == [f"{i:016x}" for i in range(2, 12)]


def test_a_span_twice_in_one_batch_is_stored_as_its_copies_upserted_in_turn(service):
    # Spans are written many rows a statement: a span given twice must end as two upserts one after the other
    # would leave it (its last copy; the attribute rows of both, the last copy's value winning).
    first = _span(9, 1, None, 1_000, model="tiny", old="kept")
    last = _span(9, 1, None, 1_000, model="big")
    last.name = "renamed"
    assert service.traces.log_spans("0", [first, _span(9, 2, 1, 1_001, model="step"), last]) == 3
    _, spans, _ = service.traces.get_trace(f"tr-{9:032x}")
    assert [s.span_id for s in spans] == [f"{1:016x}", f"{2:016x}"]
    assert json.loads(spans[0].content)["name"] == "renamed"

    def ids(filter_string: str) -> list[int]:
        return [int(i.trace_id[3:], 16) for i in service.traces.search(["0"], filter_string)[0]]

    assert ids("span.attributes.model = 'big'") == [9]
    assert ids("span.attributes.model = 'tiny'") == []
    assert ids("span.attributes.old = 'kept'") == [9]
    assert ids("span.name = 'renamed'") == [9]
    assert ids("span.name = 'root'") == []


def test_a_big_batch_is_written_in_statements_of_several_sizes_and_one_row(service):
    # 1,111 spans: statements of 1,024, 64 and 16 rows, then the 7 left one a statement.
    spans = [_span(t, 1, None, 1_000 + t) for t in (21, 22, 23)]
    spans += [_span(21 + i % 3, i, 1, 2_000 + i, n=i) for i in range(2, 1_110)]
    assert service.traces.log_spans("0", spans) == 1_111
    stored = {t: service.traces.get_trace(f"tr-{t:032x}")[1] for t in (21, 22, 23)}
    assert sum(map(len, stored.values())) == 1_111
    assert sorted(s.span_id for s in stored[23]) == sorted(s.span_id for s in spans if s.trace_id.endswith("17"))
    last = next(s for s in stored[22] if s.span_id == f"{1_108:016x}")
    assert json.loads(last.content) == spans[-2].to_otel_dict()
    ids = [int(i.trace_id[3:], 16) for i in service.traces.search(["0"], "span.attributes.n = '1109'")[0]]
    assert ids == [21 + 1_109 % 3]


def test_filters_on_spans_attributes_and_tags(service):
    service.traces.log_spans("0", [_span(1, 1, None, 10), _span(1, 2, 1, 11, model="tiny", top_k=3)])
    service.traces.log_spans("0", [_span(2, 1, None, 20), _span(2, 3, 1, 21, model="big")])
    service.traces.set_tag(f"tr-{2:032x}", "team", "ads")

    def ids(filter_string: str) -> list[int]:
        return [int(i.trace_id[3:], 16) for i in service.traces.search(["0"], filter_string)[0]]

    assert ids("span.attributes.model = 'tiny'") == [1]
    assert ids("span.attributes.top_k = '3'") == [1]
    assert ids("span.type = 'TOOL'") == [1]
    assert ids("span.name IN ('step-2', 'step-0')") == [2, 1]
    assert ids("tags.team = 'ads'") == [2]
    assert ids("tags.team IS NULL") == [1]
    assert ids("trace.timestamp_ms < 15") == [1]
    assert ids("trace.text LIKE '%big%'") == [2]


def test_delete_traces_takes_everything_with_them(service):
    service.traces.log_spans("0", [_span(t, 1, None, t) for t in range(1, 6)])
    assert service.traces.delete_traces("0", max_timestamp_millis=3, max_traces=2) == 2
    assert sorted(int(i.trace_id[3:], 16) for i in service.traces.search(["0"])[0]) == [3, 4, 5]
    assert service.traces.delete_traces("0", trace_ids=[f"tr-{4:032x}"]) == 1
    with pytest.raises(ResourceDoesNotExist):
        service.traces.get_info(f"tr-{4:032x}")


@pytest.mark.parametrize("text, mention", [
    ("span.colour = 'red'", "span attribute 'colour'"),
    ("trace.bogus = 1", "Invalid attribute key 'bogus'"),
    ("trace.timestamp_ms = 'x'", "Expected a number"),
    ("tags.a > 'b'", "Invalid comparator '>'"),
    ("trace.text = 'x'", "trace.text"),
    ("trace.status IN 'OK'", "parenthesized list"),
    ("a = 1 OR b = 2", "OR"),
])
def test_bad_filters_name_the_problem(text, mention):
    with pytest.raises(InvalidParameterValue, match=mention):
        parse_filter(text)


def test_order_by():
    assert parse_order_by(["timestamp_ms DESC"]) == []  # the default: keyset pages
    assert parse_order_by(["execution_time_ms ASC", "name"]) == [("execution_time_ms", True), ("name", True)]
    with pytest.raises(InvalidParameterValue, match="ordered by"):
        parse_order_by(["tags.x DESC"])


def test_pattern_filters_find_the_same_traces_with_or_without_an_index(service):
    """LIKE and ILIKE on every field a trigram index serves on PostgreSQL (migration 0023) and that SQLite
    answers by prefix ranges or a scan: the same traces either way, patterns too short for trigrams included."""
    service.traces.log_spans("0", [
        _span(1, 1, None, 10, **{"mlflow.spanInputs": {"q": "refund my order"}}),
        _span(1, 2, 1, 11, model="tiny-mini"),
    ])
    service.traces.log_spans("0", [
        _span(2, 1, None, 20, **{"mlflow.spanInputs": {"q": "where is my parcel xq"}}),
        _span(2, 3, 1, 21, model="big-model"),
    ])
    service.traces.log_spans("0", [_span(3, 1, None, 30, **{"mlflow.spanOutputs": "no refund"})])
    service.traces.set_tag(f"tr-{2:032x}", "mlflow.traceName", "parcel-chain")
    service.traces.set_tag(f"tr-{1:032x}", "customer", "c-170")
    service.traces.set_tag(f"tr-{3:032x}", "customer", "c-17")

    def ids(filter_string: str) -> list[int]:
        return [int(i.trace_id[3:], 16) for i in service.traces.search(["0"], filter_string)[0]]

    assert ids("trace.text LIKE '%refund%'") == [3, 1]
    assert ids("trace.text ILIKE '%REFUND MY%'") == [1]
    assert ids("trace.text LIKE '%nothing like it%'") == []
    assert ids("trace.text LIKE '%xq%'") == [2]  # two letters: no trigram, a scan
    assert ids("span.content LIKE '%tiny-mini%'") == [1]
    assert ids("span.content ILIKE '%BIG-MODEL%' AND span.name = 'step-0'") == [2]
    assert ids("span.content LIKE '%big-model%' AND span.name = 'root'") == []  # the same span must match both
    assert ids("trace.name LIKE 'parcel%'") == [2]
    assert ids("trace.name ILIKE '%CHAIN'") == [2]
    assert ids("tags.customer LIKE 'c-17%'") == [3, 1]
    assert ids("tags.customer LIKE 'c-17_'") == [1]
    assert ids("span.attributes.model ILIKE '%MINI'") == [1]
    assert ids("span.name LIKE 'step%'") == [2, 1]


def test_without_the_spans_trigram_index_text_search_scans_and_answers_the_same(db_uri, tmp_path):
    """An operator may drop the costliest trigram index (the spans' JSON, PostgreSQL): trace.text scans again,
    the other patterns keep theirs."""
    from tests.conftest import make_service

    first = make_service(db_uri, tmp_path)
    try:
        first.traces.log_spans("0", [_span(1, 1, None, 10, **{"mlflow.spanInputs": {"q": "refund my order"}}),
                                     _span(2, 1, None, 20, **{"mlflow.spanInputs": {"q": "where is my parcel"}})])
        if not db_uri.startswith("sqlite"):
            with first.store.db.engine.begin() as conn:
                conn.exec_driver_sql("DROP INDEX ix_spans_content_trgm")
    finally:
        first.close()
    svc = make_service(db_uri, tmp_path)
    try:
        found = svc.traces.search(["0"], "trace.text LIKE '%refund my%'")[0]
        assert [i.trace_id for i in found] == [f"tr-{1:032x}"]
        assert [i.trace_id for i in svc.traces.search(["0"], "span.content LIKE '%parcel%'")[0]] == [f"tr-{2:032x}"]
    finally:
        svc.close()

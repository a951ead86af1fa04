"""The reads behind the trace pages on a real store (SQLite and PostgreSQL): a trace's outline in start
order, one span, and the assessments' export a page at a time."""

from __future__ import annotations

import pytest

from modelyard.entities.traces import Span
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist


def _span(span_id: int, parent: int | None, start: int, **attributes: object) -> Span:
    return Span(f"tr-{7:032x}", f"{span_id:016x}", None if parent is None else f"{parent:016x}", f"s{span_id}",
                "LLM" if span_id % 2 else None, "OK", None, start, start + 10, dict(attributes), otel_trace_id=f"{7:032x}")


def test_outline_span_and_export(service):
    exp = service.experiments.create("reads")
    spans = [_span(1, None, 100, **{"mlflow.spanInputs": '{"q": "hi"}', "mlflow.spanOutputs": '"yo"'})]
    spans += [_span(i, 1, 1000 - i) for i in range(2, 8)]  # children start in reverse id order
    service.traces.log_spans(exp, spans)
    info, outline = service.traces.outline(f"tr-{7:032x}")
    assert info.trace_id == f"tr-{7:032x}" and len(outline) == 7
    assert [row[0] for row in outline] == [f"{i:016x}" for i in (1, 7, 6, 5, 4, 3, 2)]
    assert outline[0][1] is None and outline[1][1] == f"{1:016x}" and outline[1][3] == "LLM" and outline[2][3] is None
    assert service.traces.span(f"tr-{7:032x}", f"{1:016x}")["name"] == "s1"
    with pytest.raises(ResourceDoesNotExist):
        service.traces.span(f"tr-{7:032x}", f"{99:016x}")
    with pytest.raises(InvalidParameterValue, match="span_id"):
        service.traces.span(f"tr-{7:032x}", "nope")
    for n in range(5):
        service.assessments.create({"trace_id": f"tr-{7:032x}", "assessment_name": f"a{n}",
                                    "feedback" if n % 2 else "expectation": {"value": n}})
    rows, after, pages = [], None, 0
    for _ in range(10):  # bounded
        page, after = service.assessments.export_page(exp, after, 2)
        rows += page
        pages += 1
        if after is None:
            break
    assert pages == 3 and sorted(r["name"] for r in rows) == [f"a{n}" for n in range(5)]
    assert all(r["inputs"] == {"q": "hi"} and r["outputs"] == "yo" for r in rows)
    assert {r["kind"] for r in rows} == {"feedback", "expectation"}

"""The review queue: an experiment's traces that await a human's feedback, feedback and expectations
logged from the page (stored as assessments, source ``HUMAN``), and the experiment's assessments
exported as a dataset (JSON Lines or CSV).

A trace awaits review while it has no valid feedback of the queue's name (``feedback.<name> IS
NULL`` in MLflow's grammar); narrow the queue with any trace filter.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...entities.traces import TraceInfo
from ...errors import InvalidParameterValue, ModelyardError
from ...service import TrackingService
from ..auth import principal_of
from .render import done, inline_status, render, service

DEFAULT_NAME = "human_review"
PAGE_SIZE = 20
CSV_COLUMNS = ("trace_id", "assessment_id", "kind", "name", "value", "rationale", "source_type", "source_id",
               "create_time", "span_id", "inputs", "outputs")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def queue_name(raw: str) -> str:
    name = raw.strip() or DEFAULT_NAME
    if "`" in name or len(name) > 250:
        raise InvalidParameterValue(f"Invalid feedback name {name!r}: use at most 250 characters, no backquotes.")
    return name


def review_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    """``/experiments/{id}/review``: traces without feedback named ``name``, newest first, keyset pages."""
    svc = service(request)
    experiment = svc.experiments.get(request.path_params["experiment_id"])
    q = request.query_params.get("q", "")
    token = request.query_params.get("page_token") or None
    infos: list[TraceInfo] = []
    next_token, name = None, DEFAULT_NAME
    try:
        name = queue_name(request.query_params.get("name", ""))
        awaiting = f"feedback.`{name}` IS NULL"
        infos, next_token = svc.traces.search([experiment.experiment_id],
                                              f"{awaiting} AND {q}" if q.strip() else awaiting, PAGE_SIZE, None, token)
    except ModelyardError as exc:
        error, status = exc.message, max(status, inline_status(request))
    return render(request, "trace_review.html", status=status, section="experiments", experiment=experiment,
                  infos=infos, name=name, q=q, next_token=next_token, error=error, first=token is None,
                  here=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
                  params={"q": q or None, "name": name if name != DEFAULT_NAME else None})


def form_value(text: str, kind: str) -> Any:
    """What a reviewer typed, as the assessment's value: yes/no/true/false as booleans, numbers as
    numbers, JSON objects and lists (for expectations) as such, anything else as text."""
    text = text.strip()
    if not text:
        raise InvalidParameterValue(f"Missing value for 'value': give the {kind}'s value (yes, no, a number or text).")
    lowered = text.lower()
    if lowered in ("yes", "true", "pass"):
        return True
    if lowered in ("no", "false", "fail"):
        return False
    if _NUMBER.fullmatch(text):
        return float(text) if any(ch in text for ch in ".eE") else int(text)
    if text[0] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _next_url(form: FormData, fallback: str) -> str:
    url = str(form.get("next") or "")
    return url if url.startswith("/") and not url.startswith("//") else fallback


def add_assessment(request: Request, form: FormData) -> Response:
    """POST ``/traces/{trace_id}/assessments``: feedback or an expectation from a reviewer (EDIT on the trace)."""
    svc = service(request)
    trace_id = request.path_params["trace_id"]
    kind = str(form.get("kind") or "feedback")
    if kind not in ("feedback", "expectation"):
        raise InvalidParameterValue(f"Invalid kind {kind!r}: use 'feedback' or 'expectation'.")
    principal = principal_of(request)
    body: dict[str, Any] = {
        "trace_id": trace_id, "assessment_name": str(form.get("name") or "").strip(),
        "source": {"source_type": "HUMAN", "source_id": principal.username if principal else "web-ui"},
        # A vote button and the free-text field share the name: the first one given wins.
        kind: {"value": form_value(next((str(v) for v in form.getlist("value") if str(v).strip()), ""), kind)},
    }
    rationale = str(form.get("rationale") or "").strip()
    if rationale:
        body["rationale"] = rationale
    svc.assessments.create(body)
    return done(request, _next_url(form, f"/traces/{trace_id}#assessments"))


def _rows(svc: TrackingService, experiment_id: str) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        rows, after = svc.assessments.export_page(experiment_id, after)
        yield from rows
        if after is None:
            return


def export(request: Request) -> Response:
    """``/experiments/{id}/assessments.jsonl`` or ``.csv``: every valid assessment with its trace's inputs
    and outputs, a page of the store at a time (the download streams)."""
    svc = service(request)
    experiment = svc.experiments.get(request.path_params["experiment_id"])
    fmt = request.path_params["format"]
    filename = f"assessments-{experiment.experiment_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"}
    rows = _rows(svc, experiment.experiment_id)
    if fmt == "jsonl":
        lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)
    if fmt != "csv":
        raise InvalidParameterValue(f"Invalid export format {fmt!r}: use assessments.jsonl or assessments.csv.")
    return StreamingResponse(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # A cell a spreadsheet would run as a formula is quoted with a leading apostrophe (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(text) else text

"""Assessments on traces: feedback (a judgement) and expectations (ground truth), MLflow 3's API.

An assessment is kept in MLflow's JSON shape (``AssessmentV3``) with its name,
kind and value as text beside it for search (``feedback.correct = 'true'``).
``overrides`` names an assessment the new one replaces: the old one stays,
marked ``valid: false``, and becomes valid again if its replacement is
deleted. An update may change the name, the value (of the same kind), the
rationale and metadata (merged); source, span and creation time never change.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from ..entities.traces import decode_any_value, format_timestamp, timestamp_ms
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.traces import attribute_text
from . import limits
from .experiments import now_ms
from .traces import TraceService, check_trace_id

KINDS = ("feedback", "expectation")
SOURCE_TYPES = ("HUMAN", "LLM_JUDGE", "CODE", "SOURCE_TYPE_UNSPECIFIED")
_UPDATABLE = ("assessment_name", "expectation", "feedback", "rationale", "metadata")
MAX_NAME = 250
EXPORT_PAGE = 1000
INPUTS, OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"


def assessment_not_found(trace_id: str, assessment_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'.")


def _kind(body: dict[str, Any]) -> str:
    kinds = [k for k in KINDS if body.get(k) is not None]
    if len(kinds) != 1:
        raise InvalidParameterValue(
            "An assessment needs exactly one of 'assessment.feedback' or 'assessment.expectation'; "
            f"got {kinds or 'neither'}.")
    if not isinstance(body[kinds[0]], dict):
        raise InvalidParameterValue(limits.invalid_value(
            f"assessment.{kinds[0]}", body[kinds[0]], "use an object such as {'value': true}."))
    return kinds[0]


def _value(body: dict[str, Any], kind: str) -> Any:
    part = body.get(kind) or {}
    value = part.get("value")
    if value is None and isinstance(part.get("serialized_value"), dict):
        value = part["serialized_value"].get("value")
    return value


def _value_text(body: dict[str, Any], kind: str) -> str | None:
    value = _value(body, kind)
    return None if value is None else attribute_text(value)[:500]


def _value_number(body: dict[str, Any], kind: str) -> float | None:
    value = _value(body, kind)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _check(body: dict[str, Any]) -> str:
    name = body.get("assessment_name")
    if not name:
        raise InvalidParameterValue(limits.missing_value("assessment.assessment_name"))
    if not isinstance(name, str):
        raise InvalidParameterValue(limits.invalid_value("assessment.assessment_name", name, "use a string."))
    limits.check_length("assessment.assessment_name", name, MAX_NAME)
    source = body.get("source")
    if source is not None:
        if not isinstance(source, dict):
            raise InvalidParameterValue(limits.invalid_value("assessment.source", source, "use an object."))
        kind = source.get("source_type") or "SOURCE_TYPE_UNSPECIFIED"
        if kind not in SOURCE_TYPES:
            raise InvalidParameterValue(limits.invalid_value(
                "assessment.source.source_type", kind, f"use one of {list(SOURCE_TYPES)}."))
    metadata = body.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise InvalidParameterValue(limits.invalid_value("assessment.metadata", metadata, "use an object of strings."))
    return _kind(body)


class AssessmentService:
    def __init__(self, store: TrackingStore, traces: TraceService) -> None:
        self.store = store
        self.traces = traces

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a new assessment on ``body['trace_id']``; return it with its id and times."""
        trace_id = check_trace_id(body.get("trace_id"), "assessment.trace_id")
        kind = _check(body)
        now = now_ms()
        stamp = format_timestamp(now)
        out = {k: v for k, v in body.items() if v is not None}
        out["assessment_id"] = f"a-{uuid.uuid4().hex}"
        out.setdefault("create_time", stamp)
        out["last_update_time"] = out.get("last_update_time") or out["create_time"]
        out["valid"] = True
        with self.store.db.write() as conn:
            row = self.traces._row(conn, trace_id)
            overrides = body.get("overrides")
            if overrides:
                old = self.store.traces.assessment(conn, row.pk, overrides)
                if old is None:
                    raise assessment_not_found(trace_id, overrides)
                old["valid"] = False
                self.store.traces.set_assessment_valid(conn, overrides, False, old)
            self.store.traces.put_assessment(conn, row.pk, out, kind, _value_text(out, kind), _value_number(out, kind),
                                             now, now, new=True)
        return out

    def get(self, trace_id: str, assessment_id: str) -> dict[str, Any]:
        with self.store.db.read() as conn:
            row = self.traces._row(conn, trace_id)
            found = self.store.traces.assessment(conn, row.pk, assessment_id)
        if found is None:
            raise assessment_not_found(trace_id, assessment_id)
        return found

    def update(self, trace_id: str, assessment_id: str, changes: dict[str, Any], mask: list[str]) -> dict[str, Any]:
        """Apply the fields of ``changes`` that ``mask`` names (all given fields when it is empty)."""
        paths = mask or [k for k in _UPDATABLE if changes.get(k) is not None]
        bad = [p for p in paths if p not in _UPDATABLE]
        if bad:
            raise InvalidParameterValue(
                f"Invalid update_mask path '{bad[0]}': an update may change {list(_UPDATABLE)}.")
        with self.store.db.write() as conn:
            row = self.traces._row(conn, trace_id)
            current = self.store.traces.assessment(conn, row.pk, assessment_id)
            if current is None:
                raise assessment_not_found(trace_id, assessment_id)
            kind = _kind(current)
            for path in paths:
                value = changes.get(path)
                if path in KINDS:
                    if path != kind:
                        raise InvalidParameterValue(
                            f"Cannot update {path} value on a {kind.capitalize()} assessment.")
                    if value is None:
                        raise InvalidParameterValue(limits.missing_value(f"assessment.{path}"))
                    current[path] = value
                elif path == "metadata":
                    if value is not None and not isinstance(value, dict):
                        raise InvalidParameterValue(limits.invalid_value("assessment.metadata", value, "use an object."))
                    current["metadata"] = {**(current.get("metadata") or {}), **(value or {})}
                elif value is not None:
                    current[path] = value
            _check(current)
            now = now_ms()
            current["last_update_time"] = format_timestamp(now)
            created = current.get("create_time")
            self.store.traces.put_assessment(
                conn, row.pk, current, kind, _value_text(current, kind), _value_number(current, kind),
                _ms(created, now), now, new=False)
        return current

    def delete(self, trace_id: str, assessment_id: str) -> None:
        """Delete an assessment (idempotent); the one it overrode, if any, is valid again."""
        with self.store.db.write() as conn:
            row = self.traces._row(conn, trace_id)
            current = self.store.traces.assessment(conn, row.pk, assessment_id)
            if current is None:
                return
            overrides = current.get("overrides")
            if overrides:
                old = self.store.traces.assessment(conn, row.pk, overrides)
                if old is not None:
                    old["valid"] = True
                    self.store.traces.set_assessment_valid(conn, overrides, True, old)
            self.store.traces.delete_assessment(conn, row.pk, assessment_id)


    def export_page(self, experiment_id: Any, after: tuple[int, str] | None = None,
                    limit: int = EXPORT_PAGE) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
        """One page of the experiment's valid assessments as rows of a dataset, and where the next starts.

        Each row: the trace's id, its inputs and outputs (its root span's, whole; else the previews),
        and the assessment (name, kind, value, rationale, source, times)."""
        exp_id = limits.parse_experiment_id(experiment_id)
        with self.store.db.read() as conn:
            found = self.store.traces.assessments_page(conn, exp_id, after, limit)
            roots = self.store.traces.root_spans(conn, sorted({r[0] for r in found}))
        payloads = {pk: _root_payloads(content) for pk, content in roots.items()}
        rows = []
        for pk, trace_id, request, response, raw in found:
            body = json.loads(raw)
            kind = _kind(body)
            inputs, outputs = payloads.get(pk, (None, None))
            source = body.get("source") or {}
            rows.append({
                "trace_id": trace_id, "inputs": request if inputs is None else inputs,
                "outputs": response if outputs is None else outputs, "assessment_id": body["assessment_id"],
                "name": body["assessment_name"], "kind": kind, "value": _value(body, kind),
                "rationale": body.get("rationale"), "source_type": source.get("source_type"),
                "source_id": source.get("source_id"), "create_time": body.get("create_time"),
                "span_id": body.get("span_id"),
            })
        last = (found[-1][0], json.loads(found[-1][4])["assessment_id"]) if len(found) == limit else None
        return rows, last


def _root_payloads(content: str) -> tuple[Any, Any]:
    """A root span's inputs and outputs, decoded (MLflow stores them as JSON text)."""
    out: dict[str, Any] = {}
    for kv in json.loads(content).get("attributes", []):
        if kv.get("key") in (INPUTS, OUTPUTS):
            value = decode_any_value(kv.get("value") or {})
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[kv["key"]] = value
    return out.get(INPUTS), out.get(OUTPUTS)


def _ms(stamp: Any, default: int) -> int:
    try:
        return timestamp_ms(stamp, "create_time")
    except InvalidParameterValue:
        return default

"""The inference log: served predictions and their later ground truth — the rules.

A serving process writes request rows in bulk (``log_requests``); ground truth
arrives later as feedback (``log_feedback``); monitoring reads both back joined
(``search``). Inputs, outputs and labels are any JSON values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from ..api.schemas_inference import MAX_ROWS_PER_CALL as MAX_ROWS_PER_CALL
from ..entities.inference import InferenceRecord
from ..errors import InvalidParameterValue
from ..store import TrackingStore
from ..store.inference import FeedbackRow, RequestRow
from ..store.workspaces import model_key, shown_name
from .limits import check_int64, invalid_value, missing_value

MAX_SEARCH_RESULTS = 50_000
MAX_REQUEST_ID_LENGTH = 64
MAX_MODEL_NAME_LENGTH = 256
MAX_MODEL_VERSION_LENGTH = 64
MAX_JSON_BYTES = 1_000_000

# Re-exported: InferenceRecord lives in entities.inference.py.
__all__ = [
    "MAX_JSON_BYTES", "MAX_MODEL_NAME_LENGTH", "MAX_MODEL_VERSION_LENGTH", "MAX_REQUEST_ID_LENGTH", "MAX_ROWS_PER_CALL",
    "MAX_SEARCH_RESULTS", "InferenceRecord", "InferenceService", "now_ms",
]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def now_ms() -> int:
    return int(time.time() * 1000)


class InferenceService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts

    def log_requests(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store served requests (dicts with the fields of :class:`InferenceRecord`); returns how many."""
        _check_count(rows, "requests")
        out: list[RequestRow] = []
        for i, row in enumerate(rows):
            where = f"requests[{i}]"
            if not isinstance(row, dict):
                raise InvalidParameterValue(invalid_value(where, row, "expected an object."))
            request_id = _text(row.get("request_id"), f"{where}.request_id", MAX_REQUEST_ID_LENGTH)
            name = _text(row.get("model_name"), f"{where}.model_name", MAX_MODEL_NAME_LENGTH)
            version = _text(row.get("model_version"), f"{where}.model_version", MAX_MODEL_VERSION_LENGTH)
            ts = row.get("timestamp_ms")
            ts = now_ms() if ts is None else _int(ts, f"{where}.timestamp_ms")
            latency = row.get("latency_ms", 0.0)
            if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= 1e300:
                raise InvalidParameterValue(invalid_value(f"{where}.latency_ms", latency, "expected a number >= 0."))
            probs = row.get("probabilities")
            out.append(RequestRow(request_id, model_key(name), version, ts, float(latency),
                                  _json(row.get("inputs"), f"{where}.inputs"), _json(row.get("outputs"), f"{where}.outputs"),
                                  None if probs is None else _json(_probabilities(probs, f"{where}.probabilities"),
                                                                   f"{where}.probabilities")))
        self.store.inference.log_requests(out)
        return len(out)

    def log_feedback(self, items: Sequence[dict[str, Any]]) -> int:
        """Attach ground truth: dicts ``{"request_id": ..., "label": ...}`` (a later label replaces an earlier one)."""
        _check_count(items, "feedback")
        now = now_ms()
        rows = []
        for i, item in enumerate(items):
            where = f"feedback[{i}]"
            if not isinstance(item, dict):
                raise InvalidParameterValue(invalid_value(where, item, "expected an object."))
            request_id = _text(item.get("request_id"), f"{where}.request_id", MAX_REQUEST_ID_LENGTH)
            if "label" not in item:
                raise InvalidParameterValue(missing_value(f"{where}.label"))
            ts = item.get("timestamp_ms")
            rows.append(FeedbackRow(request_id, _json(item["label"], f"{where}.label"),
                                    now if ts is None else _int(ts, f"{where}.timestamp_ms")))
        self.store.inference.log_feedback(rows)
        return len(rows)

    def search(
        self,
        model_name: str | None = None,
        model_version: str | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        max_results: int = 1000,
        offset: int = 0,
    ) -> list[InferenceRecord]:
        """Served requests, newest first, with their labels."""
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidParameterValue(invalid_value("max_results", max_results, f"must be 1..{MAX_SEARCH_RESULTS}."))
        if offset < 0:
            raise InvalidParameterValue(invalid_value("offset", offset, "must be >= 0."))
        if model_name is not None:
            model_name = model_key(model_name)  # a model of the request's workspace, as the server stores it
        found = self.store.inference.search(model_name, model_version, start_time_ms, end_time_ms, max_results, offset)
        # Each row's model as the request's workspace knows it: its own name there, else its key (``prod:m``).
        return [
            InferenceRecord(r.request.request_id, shown_name(r.request.model_name), *r.request[2:5],
                            _decode(r.request.inputs), _decode(r.request.outputs),
                            None if r.label is None else _decode(r.label), r.label_timestamp_ms,
                            None if r.request.probabilities is None else _decode(r.request.probabilities))
            for r in found
        ]


def _check_count(rows: Sequence[Any], what: str) -> None:
    if not isinstance(rows, (list, tuple)):
        raise InvalidParameterValue(invalid_value(what, type(rows).__name__, "expected a list."))
    if len(rows) > MAX_ROWS_PER_CALL:
        raise InvalidParameterValue(
            invalid_value(what, f"{len(rows)} items", f"at most {MAX_ROWS_PER_CALL} per call.")
        )


def _text(value: Any, path: str, limit: int) -> str:
    if value is None or value == "":
        raise InvalidParameterValue(missing_value(path))
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidParameterValue(invalid_value(path, value, "expected a string."))
    text = str(value)
    if len(text) > limit:
        raise InvalidParameterValue(invalid_value(path, text[:80] + "…", f"longer than {limit} characters."))
    return text


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue(invalid_value(path, value, "expected an integer."))
    return check_int64(value, path)


MAX_CLASSES = 1000


def _probabilities(value: Any, path: str) -> dict[str, Any]:
    """``{"classes": [c1, ...], "data": [[p1, ...] per row]}``: every row as long as ``classes``, each p in [0, 1]."""
    if not isinstance(value, dict) or set(value) != {"classes", "data"}:
        raise InvalidParameterValue(invalid_value(path, str(value)[:80],
                                                  'expected {"classes": [...], "data": [[p, ...] per row]}.'))
    classes, data = value["classes"], value["data"]
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES or \
            not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise InvalidParameterValue(invalid_value(f"{path}.classes", str(classes)[:80],
                                                  f"expected a list of 2 to {MAX_CLASSES} class labels."))
    if not isinstance(data, list):
        raise InvalidParameterValue(invalid_value(f"{path}.data", str(data)[:80], "expected a list of rows."))
    k = len(classes)
    for i, probs in enumerate(data):
        if not isinstance(probs, list) or len(probs) != k or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in probs):
            raise InvalidParameterValue(invalid_value(f"{path}.data[{i}]", str(probs)[:80],
                                                      f"expected {k} probabilities in [0, 1], one per class."))
    return value


def _json(value: Any, path: str) -> str:
    try:
        text = _encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidParameterValue(invalid_value(path, str(value)[:80], f"not JSON: {exc}")) from None
    if len(text) > MAX_JSON_BYTES:
        raise InvalidParameterValue(invalid_value(path, f"{len(text)} bytes", f"larger than {MAX_JSON_BYTES} bytes."))
    return text

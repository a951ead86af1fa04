"""What a trace may keep: redaction before anything is stored, and bounded payloads.

**Redaction** (settings ``trace_redact_patterns`` and ``trace_redact_function``): every span
attribute (a span's inputs and outputs included), event attribute and status message, a trace's
request and response previews, and the values of its tags and metadata (but for :data:`KEPT_KEYS`,
ids of the run, user, session and locations, kept as sent) pass through it, on every way in (OTLP
``/v1/traces``, ``start_trace``, ``set_trace_tag``, the SDK embedded), before the store sees them.
Patterns are regular expressions; each match in a string (strings inside lists and objects too)
becomes ``trace_redact_replacement``. The function, named
``package.module:function``, is called as ``fn(key, value)`` for each attribute, tag or metadata
entry after the patterns and returns the value to keep, or None to drop the entry.

**Bounded payloads** (setting ``trace_max_payload_chars``): a span's inputs or outputs longer
than this are stored cut to that length with :data:`TRUNCATED_MARKER` and the full text's length
appended; the whole text is kept as an artifact of the trace (``spans/<span_id>/inputs.json`` or
``outputs.json`` under the trace's artifact location) when the service can write artifacts.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from ..entities.traces import Span, TraceInfo
from ..errors import InvalidParameterValue

INPUTS, OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"
PAYLOADS = (INPUTS, OUTPUTS)
_compact = msgspec.json.Encoder().encode
TRUNCATED_MARKER = "…[truncated by modelyard: {shown} of {total} characters; full copy: {where}]"
_KEEP = frozenset({"mlflow.traceRequestId", "mlflow.spanType"})  # ids and kinds, never personal data
# Tags and metadata that identify (a run, a user, a session, where things are): kept as sent, so
# that a trace stays linked and "delete every trace of this user" still finds it. Every other tag
# and metadata value is redacted, MLflow's own too (mlflow.traceInputs holds the request).
KEPT_KEYS = frozenset({
    "mlflow.sourceRun", "mlflow.trace.user", "mlflow.trace.session", "mlflow.artifactLocation",
    "mlflow.trace.spansLocation", "mlflow.traceName", "mlflow.trace_schema.version", "mlflow.trace.sizeBytes",
    "mlflow.trace.sizeStats", "mlflow.trace.tokenUsage", "mlflow.user", "mlflow.source.name", "mlflow.source.type",
    "mlflow.source.git.commit", "mlflow.source.git.branch", "mlflow.source.git.repoURL", "mlflow.modelId",
})

RedactFunction = Callable[[str, Any], Any]


def _load_function(name: str) -> RedactFunction:
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise InvalidParameterValue(
            f"Invalid trace_redact_function {name!r}: name it as package.module:function.")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidParameterValue(f"Cannot load trace_redact_function {name!r}: {exc}.") from None
    if not callable(fn):
        raise InvalidParameterValue(f"trace_redact_function {name!r} is not a function.")
    return fn  # type: ignore[no-any-return]


def parse_patterns(text: str) -> list[re.Pattern[str]]:
    """``trace_redact_patterns``: one regular expression, or a JSON list of them."""
    text = text.strip()
    if not text:
        return []
    raw: list[Any] = [text]
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidParameterValue(f"Invalid trace_redact_patterns: not a JSON list of strings ({exc}).") from None
    out = []
    for p in raw:
        if not isinstance(p, str):
            raise InvalidParameterValue(f"Invalid trace_redact_patterns entry {p!r}: use strings.")
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise InvalidParameterValue(f"Invalid trace_redact_patterns entry {p!r}: {exc}.") from None
    return out


@dataclass
class Redactor:
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    replacement: str = "[REDACTED]"
    function: RedactFunction | None = None

    @classmethod
    def from_settings(cls, patterns: str, replacement: str, function: str) -> Redactor:
        return cls(parse_patterns(patterns), replacement, _load_function(function) if function.strip() else None)

    @property
    def active(self) -> bool:
        return bool(self.patterns) or self.function is not None

    def text(self, value: str) -> str:
        for p in self.patterns:
            value = p.sub(self.replacement, value)
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (nested too) redacted by the patterns."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def entries(self, items: dict[str, Any], skip: Callable[[str], bool]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items.items():
            if skip(key):
                out[key] = value
                continue
            value = self.value(value)
            if self.function is not None:
                value = self.function(key, value)
                if value is None:
                    continue
            out[key] = value
        return out

    def span(self, span: Span) -> Span:
        attributes = self.entries(span.attributes, _KEEP.__contains__)
        events = None if span.events is None else [
            {**e, "attributes": self.entries(e.get("attributes") or {}, _KEEP.__contains__)} for e in span.events]
        message = None if span.status_message is None else self.text(span.status_message)
        return replace(span, attributes=attributes, events=events, status_message=message)

    def info(self, info: TraceInfo) -> TraceInfo:
        kept = KEPT_KEYS.__contains__
        out = replace(info, tags=self.entries(info.tags, kept), metadata=self.entries(info.metadata, kept))
        for name in ("request_preview", "response_preview"):
            value = getattr(info, name)
            if value is not None:
                value = self.text(value)
                if self.function is not None:
                    value = self.function(name, value)
                setattr(out, name, None if value is None else str(value))
        return out


def _short(value: Any, limit: int) -> bool:
    """Whether ``value``'s JSON text (``json.dumps``: ", " and ": " between items) surely fits in ``limit``
    characters: it is at most twice as long as its compact UTF-8 encoding, which is cheap to take."""
    try:
        return 2 * len(_compact(value)) <= limit
    except (TypeError, ValueError, OverflowError):  # not plain JSON for msgspec: take json.dumps's word for it
        return False


def bound_payloads(span: Span, limit: int, location: str,
                   keep: Callable[[Span, str, str], None] | None) -> Span:
    """``span`` with its inputs and outputs cut to ``limit`` characters (a marker says so); ``keep`` is
    given each cut payload's whole text first, to store as an artifact of the trace (under ``location``,
    its experiment's artifact location)."""
    if limit <= 0:
        return span
    changed: dict[str, Any] = {}
    for key in PAYLOADS:
        value = span.attributes.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            text = value
        else:
            if _short(value, limit):
                continue
            text = json.dumps(value, ensure_ascii=False)
        if len(text) <= limit:
            continue
        name = "inputs" if key == INPUTS else "outputs"
        where = f"{location}/traces/{span.trace_id}/artifacts/spans/{span.span_id}/{name}.json"
        if keep is not None:
            keep(span, name, text)
        else:
            where = "not kept"
        changed[key] = text[:limit] + TRUNCATED_MARKER.format(shown=limit, total=len(text), where=where)
    if not changed:
        return span
    return replace(span, attributes={**span.attributes, **changed})

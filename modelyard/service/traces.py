"""LLM traces: span ingest, trace info, reads with paged spans, search, tags, delete, links.

MLflow 3.17's client sends each finished span over OTLP (``log_spans``) and,
when the root span ends, the trace info it computed (``start_trace``). Both
may come in either order; the trace exists from whichever comes first. Every
trace we hold keeps its spans in the store, so its info says
``mlflow.trace.spansLocation = TRACKING_STORE`` and the client reads spans
back through ``traces/get`` and ``traces/batchGet`` instead of an artifact.

Spans are read a page at a time (``max_spans`` and ``page_token`` on
``get_trace``), so a trace of 30,000 spans never has to travel in one piece.
Assessments (feedback and expectations) are in :mod:`.trace_assessments`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from typing import Any

from ..entities.prompts import LINKED_PROMPTS_TAG
from ..entities.traces import TRACE_STATES, Span, StoredSpan, TraceInfo, duration_ms, timestamp_ms
from ..entities.usage import TOKEN_KEYS, Usage, span_usage
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.traces import ARTIFACT_LOCATION_TAG, SPANS_LOCATION_TAG, TraceRow
from . import limits
from .artifacts import ArtifactService
from .experiments import ExperimentService
from .runs import RunService
from .trace_privacy import INPUTS, KEPT_KEYS, OUTPUTS, Redactor, bound_payloads
from .traces_search import decode_token, encode_token, parse_filter, parse_order_by

SEARCH_DEFAULT_MAX_RESULTS = 100
SEARCH_MAX_RESULTS = 1000
MAX_TRACE_IDS = 100  # per batchGet, delete-traces by id and link-to-run, as MLflow
MAX_SPAN_PAGE = 50_000
MAX_TAG_VALUE = 8000
_TRACE_ID = re.compile(r"^[\w:/.\-]{1,64}$")


def trace_not_found(trace_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")


def linked_prompts(tags: dict[str, str]) -> list[tuple[str, str]]:
    """The (name, version) pairs a trace's ``mlflow.linkedPrompts`` tag lists (JSON written by the clients).

    The tag is the client's record; one that is not such a list links nothing (it stays a tag)."""
    if LINKED_PROMPTS_TAG not in tags:  # most traces
        return []
    try:
        entries = json.loads(tags[LINKED_PROMPTS_TAG] or "[]")
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [(str(e["name"])[:256], str(e["version"])[:32]) for e in entries
            if isinstance(e, dict) and e.get("name") and e.get("version") not in (None, "")]


def usage_of(spans: Sequence[Span]) -> list[tuple[str, str, Usage]]:
    """(trace id, span id, usage) of the spans whose attributes report tokens."""
    out = []
    for sp in spans:
        if TOKEN_KEYS.isdisjoint(sp.attributes):  # most spans: no call
            continue
        found = span_usage(sp.attributes)
        if found is not None:
            out.append((sp.trace_id, sp.span_id, found))
    return out


def check_trace_id(trace_id: Any, path: str = "trace_id") -> str:
    if trace_id is None or trace_id == "":
        raise InvalidParameterValue(limits.missing_value(path))
    if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
        raise InvalidParameterValue(limits.invalid_value(
            path, trace_id, "a trace id is 'tr-' and 32 hex digits, as MLflow writes it."))
    return trace_id


class TraceService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService, runs: RunService) -> None:
        self.store = store
        self.experiments = experiments
        self.runs = runs
        # Set by TrackingService from the settings (trace_privacy.py): redaction before storage,
        # the longest inputs/outputs stored whole, and where the whole text of a longer one goes.
        self.redactor = Redactor()
        self.payload_limit = 0
        self.artifacts: ArtifactService | None = None

    def _redacted(self, spans: Sequence[Span]) -> Sequence[Span]:
        return [self.redactor.span(s) for s in spans] if self.redactor.active else spans

    def _bounded(self, spans: Sequence[Span], location: str) -> Sequence[Span]:
        """Spans with their inputs and outputs cut to ``payload_limit``, whole copies as trace artifacts."""
        if self.payload_limit <= 0:
            return spans
        artifacts = self.artifacts

        def keep(span: Span, name: str, text: str) -> None:
            assert artifacts is not None
            repo = artifacts.repository(f"{location}/traces/{span.trace_id}/artifacts")
            repo.put(f"spans/{span.span_id}/{name}.json", io.BytesIO(text.encode("utf-8")))

        limit = self.payload_limit
        kept = keep if artifacts is not None else None
        out = []
        for s in spans:
            # Most spans' inputs and outputs are short strings, or none: such a span is kept as it is, at once.
            inputs, outputs = s.attributes.get(INPUTS), s.attributes.get(OUTPUTS)
            if ((inputs is None or (type(inputs) is str and len(inputs) <= limit))
                    and (outputs is None or (type(outputs) is str and len(outputs) <= limit))):
                out.append(s)
            else:
                out.append(bound_payloads(s, limit, location, kept))
        return out

    # ---- writes ---------------------------------------------------------------

    def _fixed_tags(self, artifact_location: str, trace_id: str) -> dict[str, str]:
        return {SPANS_LOCATION_TAG: "TRACKING_STORE",
                ARTIFACT_LOCATION_TAG: f"{artifact_location}/traces/{trace_id}/artifacts"}

    def log_spans(self, experiment_id: Any, spans: Sequence[Span], run_id: str | None = None) -> int:
        """Store a batch of spans (OTLP) in the experiment ``experiment_id``; return how many.

        With ``run_id`` every trace of the batch is linked to that run (as ``link_to_run`` does)."""
        if experiment_id is None or experiment_id == "":
            raise InvalidParameterValue(
                "Missing header 'x-mlflow-experiment-id': name the experiment the spans belong to.")
        exp_id = limits.parse_experiment_id(experiment_id, "x-mlflow-experiment-id")
        if run_id is not None:
            limits.check_run_id(run_id, "x-mlflow-run-id")
        spans = self._redacted(spans)
        trace_ids = {s.trace_id for s in spans}
        # The official client posts one trace's spans at a time: that trace is looked up with the experiment.
        one = next(iter(trace_ids)) if len(trace_ids) == 1 else None
        with self.store.db.fast_write() as tx:
            location, pk = self._active_experiment(tx, exp_id, one)
            found = None if one is None else ({} if pk is None else {one: pk})
            if run_id is not None and not self.store.traces.run_exists(tx, run_id):
                raise ResourceDoesNotExist(f"Run with id={run_id} not found (header x-mlflow-run-id).")
            if not spans:
                return 0
            spans = self._bounded(spans, location)
            fixed = {trace_id: self._fixed_tags(location, trace_id) for trace_id in trace_ids}
            return self.store.traces.ingest(tx, exp_id, spans, fixed, run_id, usage_of(spans), found)

    def _active_experiment(self, conn: Any, experiment_id: int, trace_id: str | None = None) -> tuple[str, int | None]:
        """The artifact location of an active experiment, checked in the caller's transaction, and the primary
        key of the trace ``trace_id`` when given (None if it does not exist), read with it."""
        found = self.store.traces.experiment(conn, experiment_id, trace_id)
        if found is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        if found[1] != "active":
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {found[1]}.")
        return found[0], found[2]

    def start_trace(self, info: dict[str, Any]) -> TraceInfo:
        """Record the trace info the client sent (``POST /api/3.0/mlflow/traces``)."""
        parsed = parse_trace_info(info)
        if self.redactor.active:
            parsed = self.redactor.info(parsed)
        exp_id = limits.parse_experiment_id(parsed.experiment_id, "trace.trace_info.trace_location")
        with self.store.db.fast_write() as tx:
            location, _ = self._active_experiment(tx, exp_id)
            stored = self.store.traces.start_trace(tx, parsed, exp_id, self._fixed_tags(location, parsed.trace_id),
                                                   prompts=linked_prompts(parsed.tags))
        assert stored is not None
        return stored

    def log_traces(self, experiment_id: Any, spans: Sequence[Span], infos: Sequence[dict[str, Any]]) -> int:
        """Spans and the infos of their traces in one transaction (the SDK's embedded batches)."""
        exp_id = limits.parse_experiment_id(experiment_id)
        parsed = [parse_trace_info(info) for info in infos]
        if self.redactor.active:
            parsed = [self.redactor.info(p) for p in parsed]
        spans = self._redacted(spans)
        with self.store.db.fast_write() as tx:
            location, _ = self._active_experiment(tx, exp_id)
            if spans:
                spans = self._bounded(spans, location)
                fixed = {trace_id: self._fixed_tags(location, trace_id) for trace_id in {s.trace_id for s in spans}}
                self.store.traces.ingest(tx, exp_id, spans, fixed, usage=usage_of(spans))
            for info in parsed:
                self.store.traces.start_trace(tx, info, exp_id, self._fixed_tags(location, info.trace_id),
                                              read_back=False, prompts=linked_prompts(info.tags))
        return len(spans)

    def set_tag(self, trace_id: str, key: Any, value: Any) -> None:
        limits.check_name(key, "key", "Tag")
        if not isinstance(value, str):
            raise InvalidParameterValue(limits.invalid_value("value", value, "a tag value is a string."))
        limits.check_length("value", value, MAX_TAG_VALUE)
        if self.redactor.active and key not in KEPT_KEYS:
            kept = self.redactor.entries({key: value}, lambda _: False)
            if key not in kept:
                return  # the redaction function dropped it
            value = str(kept[key])
        with self.store.db.write() as conn:
            row = self._row(conn, trace_id)
            self.store.traces.set_tag(conn, row.pk, key, value)
            if key == LINKED_PROMPTS_TAG:
                self.store.traces.link_prompts(conn, row.pk, linked_prompts({key: value}))

    def delete_tag(self, trace_id: str, key: Any) -> None:
        if not key:
            raise InvalidParameterValue(limits.missing_value("key"))
        with self.store.db.write() as conn:
            row = self._row(conn, trace_id)
            if not self.store.traces.delete_tag(conn, row.pk, key):
                raise ResourceDoesNotExist(f"No trace tag with key '{key}' for trace with ID '{trace_id}'.")

    def delete_traces(self, experiment_id: Any, max_timestamp_millis: int | None = None,
                      max_traces: int | None = None, trace_ids: Sequence[str] | None = None) -> int:
        """Delete traces of one experiment: by id, or the oldest (``max_traces``) up to a time."""
        if experiment_id is None or experiment_id == "":
            raise InvalidParameterValue(limits.missing_value("experiment_id"))
        exp_id = limits.parse_experiment_id(experiment_id)
        self.experiments.get(exp_id)
        if trace_ids:
            if max_timestamp_millis is not None or max_traces is not None:
                raise InvalidParameterValue(
                    "Pass either request_ids, or max_timestamp_millis (and optionally max_traces), not both.")
            for i, tid in enumerate(trace_ids):
                check_trace_id(tid, f"request_ids[{i}]")
        elif max_timestamp_millis is None:
            raise InvalidParameterValue(
                "Missing value for 'max_timestamp_millis' or 'request_ids': say which traces to delete.")
        if max_traces is not None and max_traces <= 0:
            raise InvalidParameterValue(limits.invalid_value("max_traces", max_traces, "use a positive number."))
        with self.store.db.write() as conn:
            pks = self.store.traces.pks_to_delete(conn, exp_id, trace_ids or None, max_timestamp_millis, max_traces)
            return self.store.traces.delete(conn, pks)

    def delete_of(self, experiment_id: Any, user: str | None = None, session_id: str | None = None) -> int:
        """Delete every trace of one user or one session in an experiment (spans, tags, metadata,
        assessments and links with them, in one transaction); return how many."""
        if experiment_id is None or experiment_id == "":
            raise InvalidParameterValue(limits.missing_value("experiment_id"))
        exp_id = limits.parse_experiment_id(experiment_id)
        if bool(user) == bool(session_id):
            raise InvalidParameterValue(
                "Pass either 'user' or 'session_id' (as the trace's metadata mlflow.trace.user or"
                " mlflow.trace.session holds it), not both and not neither.")
        limits.check_length("user" if user else "session_id", user or session_id, 250)
        self.experiments.get(exp_id)
        with self.store.db.write() as conn:
            pks = self.store.traces.pks_of(conn, exp_id, user=user or None, session_id=session_id or None)
            return self.store.traces.delete(conn, pks)

    def link_to_run(self, trace_ids: Sequence[str], run_id: Any) -> None:
        limits.check_run_id(run_id)
        if len(trace_ids) > MAX_TRACE_IDS:
            raise InvalidParameterValue(
                f"Cannot link more than {MAX_TRACE_IDS} traces to a run in a single request; "
                f"got {len(trace_ids)}. Split the list.")
        for i, tid in enumerate(trace_ids):
            check_trace_id(tid, f"trace_ids[{i}]")
        self.runs.get(run_id)  # 404 for an unknown run
        with self.store.db.write() as conn:
            rows = self.store.traces.rows(conn, list(trace_ids))
            missing = [tid for tid in trace_ids if tid not in rows]
            if missing:
                raise trace_not_found(missing[0])
            self.store.traces.link_runs(conn, [r.pk for r in rows.values()], run_id)

    def link_prompts(self, trace_id: str, versions: Sequence[tuple[Any, Any]]) -> None:
        pairs = []
        for i, (name, version) in enumerate(versions):
            if not name:
                raise InvalidParameterValue(limits.missing_value(f"prompt_versions[{i}].name"))
            if version is None or str(version) == "":
                raise InvalidParameterValue(limits.missing_value(f"prompt_versions[{i}].version"))
            limits.check_length(f"prompt_versions[{i}].name", str(name), 256)
            limits.check_length(f"prompt_versions[{i}].version", str(version), 32)
            pairs.append((str(name), str(version)))
        with self.store.db.write() as conn:
            row = self._row(conn, trace_id)
            if pairs:
                self.store.traces.link_prompts(conn, row.pk, pairs)

    # ---- reads ----------------------------------------------------------------

    def _row(self, conn: Any, trace_id: str) -> TraceRow:
        check_trace_id(trace_id)
        row = self.store.traces.rows(conn, [trace_id]).get(trace_id)
        if row is None:
            raise trace_not_found(trace_id)
        return row

    def get_info(self, trace_id: str) -> TraceInfo:
        with self.store.db.read() as conn:
            row = self._row(conn, trace_id)
            return self.store.traces.infos(conn, [row.pk])[0]

    def get_trace(self, trace_id: str, max_spans: int | None = None,
                  page_token: str | None = None) -> tuple[TraceInfo, list[StoredSpan], str | None]:
        """The trace with one page of its spans (all of them unless ``max_spans``) and the next page's token."""
        if max_spans is not None and not 1 <= max_spans <= MAX_SPAN_PAGE:
            raise InvalidParameterValue(limits.invalid_value(
                "max_spans", max_spans, f"use a number from 1 to {MAX_SPAN_PAGE}."))
        after = _span_token(page_token)
        with self.store.db.read() as conn:
            row = self._row(conn, trace_id)
            info = self.store.traces.infos(conn, [row.pk])[0]
            limit = None if max_spans is None else max_spans + 1
            spans = self.store.traces.spans(conn, row.pk, after, limit)
        token = None
        if max_spans is not None and len(spans) > max_spans:
            spans = spans[:max_spans]
            last = spans[-1]
            token = f"{0 if last.parent_span_id is None else 1}.{last.start_time_ns}.{last.span_id}"
        return info, spans, token

    def outline(self, trace_id: str) -> tuple[TraceInfo, list[tuple[Any, ...]]]:
        """The trace's info and every span's (span_id, parent_span_id, name, type, status, start_time_ns,
        end_time_ns), by start time: no span content, so a 32,000-span trace is a small read."""
        with self.store.db.read() as conn:
            row = self._row(conn, trace_id)
            return self.store.traces.infos(conn, [row.pk])[0], self.store.traces.outline(conn, row.pk)

    def span(self, trace_id: str, span_id: str) -> dict[str, Any]:
        """One span of the trace as OpenTelemetry protobuf JSON (404 for an unknown span)."""
        if not re.fullmatch(r"[0-9a-f]{16}", span_id or ""):
            raise InvalidParameterValue(limits.invalid_value("span_id", span_id, "a span id is 16 hex digits."))
        with self.store.db.read() as conn:
            row = self._row(conn, trace_id)
            content = self.store.traces.span(conn, row.pk, span_id)
        if content is None:
            raise ResourceDoesNotExist(f"Trace '{trace_id}' has no span '{span_id}'.")
        found: dict[str, Any] = json.loads(content)
        return found

    def batch_get(self, trace_ids: Sequence[str], with_spans: bool = True,
                  experiment_ids: Sequence[Any] | None = None) -> list[tuple[TraceInfo, list[StoredSpan]]]:
        """The traces that exist among ``trace_ids`` (unknown ids are left out), in the order asked;
        only those of ``experiment_ids`` when given."""
        scope = None if experiment_ids is None else {
            limits.parse_experiment_id(e, "experiment_ids") for e in experiment_ids}
        if len(trace_ids) > MAX_TRACE_IDS:
            raise InvalidParameterValue(
                f"Cannot get more than {MAX_TRACE_IDS} traces in one request; got {len(trace_ids)}.")
        for i, tid in enumerate(trace_ids):
            check_trace_id(tid, f"trace_ids[{i}]")
        with self.store.db.read() as conn:
            rows = self.store.traces.rows(conn, list(trace_ids))
            found = [rows[t] for t in dict.fromkeys(trace_ids)
                     if t in rows and (scope is None or rows[t].experiment_id in scope)]
            infos = self.store.traces.infos(conn, [r.pk for r in found])
            return [(info, self.store.traces.spans(conn, r.pk, None, None) if with_spans else [])
                    for r, info in zip(found, infos, strict=True)]

    def search(self, experiment_ids: Sequence[Any], filter_string: str | None = None,
               max_results: int | None = None, order_by: list[str] | None = None,
               page_token: str | None = None) -> tuple[list[TraceInfo], str | None]:
        """One page of trace infos of the experiments, newest first unless ``order_by`` says otherwise."""
        max_results = max_results or SEARCH_DEFAULT_MAX_RESULTS
        limits.check_max_results(max_results, SEARCH_MAX_RESULTS)
        if not experiment_ids:
            raise InvalidParameterValue(
                "Missing value for 'locations': name at least one experiment "
                "({'type': 'MLFLOW_EXPERIMENT', 'mlflow_experiment': {'experiment_id': '1'}}).")
        ids = [limits.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        filters = parse_filter(filter_string)
        order = parse_order_by(order_by)
        offset, after = decode_token(page_token)
        with self.store.db.read() as conn:
            found = self.store.traces.search(conn, ids, filters, order, max_results + 1, offset, after)
            page = found[:max_results]
            infos = self.store.traces.infos(conn, [pk for pk, _ in page])
        token = None
        if len(found) > max_results:
            token = encode_token(offset + max_results) if order else encode_token(after=(page[-1][1], page[-1][0]))
        return infos, token


def _span_token(token: str | None) -> tuple[int, int, str] | None:
    if not token:
        return None
    found = re.fullmatch(r"([01])\.(\d{1,20})\.([0-9a-f]{16})", token)
    if found is None:
        raise InvalidParameterValue(
            f"Invalid page_token {token!r}: pass the next_page_token of the previous page unchanged.")
    return int(found.group(1)), int(found.group(2)), found.group(3)


def parse_trace_info(info: dict[str, Any]) -> TraceInfo:
    """A ``TraceInfoV3`` in protobuf JSON (as the client sends it) as a :class:`TraceInfo`, checked."""
    trace_id = check_trace_id(info.get("trace_id"), "trace.trace_info.trace_id")
    location = info.get("trace_location") or {}
    exp = (location.get("mlflow_experiment") or {}).get("experiment_id") if isinstance(location, dict) else None
    if exp is None or exp == "":
        raise InvalidParameterValue(limits.missing_value("trace.trace_info.trace_location.mlflow_experiment.experiment_id"))
    if info.get("request_time") is None:
        raise InvalidParameterValue(limits.missing_value("trace.trace_info.request_time"))
    request_ms = timestamp_ms(info["request_time"], "trace.trace_info.request_time")
    duration = info.get("execution_duration")
    duration_value = None if duration is None else duration_ms(duration, "trace.trace_info.execution_duration")
    state = info.get("state") or "STATE_UNSPECIFIED"
    if state not in TRACE_STATES:
        if state == "STATE_UNSPECIFIED":
            state = "IN_PROGRESS"
        else:
            raise InvalidParameterValue(limits.invalid_value(
                "trace.trace_info.state", state, f"use one of {list(TRACE_STATES)}."))
    tags = _string_map(info.get("tags"), "trace.trace_info.tags")
    metadata = _string_map(info.get("trace_metadata"), "trace.trace_info.trace_metadata")
    for key in list(tags) + list(metadata):
        limits.check_length("trace.trace_info tag or metadata key", key, limits.MAX_ENTITY_KEY_LENGTH)
    client_request_id = info.get("client_request_id") or None
    limits.check_length("trace.trace_info.client_request_id", client_request_id, 250)
    return TraceInfo(
        trace_id=trace_id, experiment_id=str(exp), request_time_ms=request_ms, execution_time_ms=duration_value,
        state=state, request_preview=info.get("request_preview"), response_preview=info.get("response_preview"),
        client_request_id=client_request_id, tags=tags, metadata=metadata,
    )


def _string_map(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidParameterValue(limits.invalid_value(path, value, "use an object of strings."))
    return value

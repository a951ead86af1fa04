"""Traces for the trace pages' tests: a big nested trace, a small one with payloads, feedback and tags."""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelyard.entities.traces import Span, format_timestamp
from modelyard.service import TrackingService

XSS = "<script>alert('span')</script>"


@dataclass
class TraceSeed:
    experiment_id: str
    big: str  # a trace of ``big_spans`` spans, nested three levels
    small: str  # a 3-span trace with inputs, outputs, an error span, tokens
    big_spans: int
    run_id: str


def span(trace: int, span_id: int, parent: int | None, start_ns: int, name: str, dur_ns: int = 1_000_000,
         status: str = "OK", **attributes: object) -> Span:
    return Span(trace_id=f"tr-{trace:032x}", span_id=f"{span_id:016x}",
                parent_span_id=None if parent is None else f"{parent:016x}", name=name,
                type=str(attributes.pop("span_type", "CHAIN")), status=status, status_message=None,
                start_time_ns=start_ns, end_time_ns=start_ns + dur_ns, attributes=dict(attributes),
                otel_trace_id=f"{trace:032x}")


def info(trace: int, experiment_id: str, start_ms: int, duration_ms: int, name: str, **metadata: str) -> dict:
    return {"trace_id": f"tr-{trace:032x}",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
            "request_time": format_timestamp(start_ms), "execution_duration": f"{duration_ms / 1000:.3f}s", "state": "OK",
            "tags": {"mlflow.traceName": name}, "trace_metadata": metadata}


def big_trace(trace: int, n: int, t0_ns: int) -> list[Span]:
    """A root, ``n // 100`` chains of about a hundred steps each, every tenth step with a child."""
    spans = [span(trace, 1, None, t0_ns, "agent", dur_ns=n * 10_000, span_type="AGENT")]
    next_id, chain = 2, 0
    while next_id <= n:
        chain_id = next_id
        spans.append(span(trace, chain_id, 1, t0_ns + next_id * 10_000, f"chain-{chain}", dur_ns=1_000_000))
        next_id += 1
        for step in range(99):
            if next_id > n:
                break
            parent = chain_id if step % 10 else next_id - 1
            spans.append(span(trace, next_id, parent, t0_ns + next_id * 10_000, f"step-{chain}-{step}",
                              dur_ns=8_000, span_type="LLM" if step % 2 else "TOOL"))
            next_id += 1
        chain += 1
    return spans


def seed_traces(svc: TrackingService, experiment_id: str, big_spans: int = 2000) -> TraceSeed:
    run_id = svc.runs.create(experiment_id, start_time=1_700_000_000_000, run_name="rag-eval").info.run_id
    t0 = 1_700_000_000_000
    big = big_trace(1, big_spans, t0 * 1_000_000)
    svc.traces.log_traces(experiment_id, big, [info(1, experiment_id, t0, 20, "big-agent")])
    small = [
        span(2, 1, None, (t0 + 1000) * 1_000_000, XSS, dur_ns=40_000_000, span_type="CHAIN",
             **{"mlflow.spanInputs": json.dumps({"question": "What is the refund policy?"}),
                "mlflow.spanOutputs": json.dumps("30 days, no questions asked")}),
        span(2, 2, 1, (t0 + 1001) * 1_000_000, "retrieve", dur_ns=5_000_000, span_type="RETRIEVER",
             **{"mlflow.spanInputs": json.dumps({"query": "refund"}), "retriever.top_k": 3}),
        span(2, 3, 1, (t0 + 1010) * 1_000_000, "generate", dur_ns=20_000_000, status="ERROR", span_type="LLM",
             **{"gen_ai.request.model": "tiny-llm"}),
    ]
    usage = json.dumps({"input_tokens": 120, "output_tokens": 30, "total_tokens": 150})
    svc.traces.log_traces(experiment_id, small, [info(2, experiment_id, t0 + 1000, 40, "rag", **{
        "mlflow.trace.tokenUsage": usage, "mlflow.sourceRun": run_id, "mlflow.trace.user": "ana",
        "mlflow.trace.session": "s-1"})])
    # Ten small traces to page through, newest last.
    for i in range(10):
        tr = 100 + i
        svc.traces.log_traces(experiment_id, [span(tr, 1, None, (t0 + 5000 + i) * 1_000_000, "ping")],
                              [info(tr, experiment_id, t0 + 5000 + i, 1, f"ping-{i}")])
    return TraceSeed(experiment_id, f"tr-{1:032x}", f"tr-{2:032x}", big_spans, run_id)

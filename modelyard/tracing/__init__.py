"""Tracing for LLM applications: ``@my.trace`` and ``my.start_span``, embedded or against a server.

Spans follow MLflow's conventions (``mlflow.spanType``, ``mlflow.spanInputs``,
``mlflow.spanOutputs``), so the official ``mlflow`` client reads our traces
and we read its. A trace is sent when its root span ends, in the background
(one thread per process, in order); :func:`flush` waits until everything
queued is stored and raises the first error of a background send::

    import modelyard as my

    @my.trace(span_type="LLM")
    def answer(question):
        return "30 days"

    with my.start_span("support-bot", span_type="CHAIN") as span:
        span.set_inputs({"question": "refunds?"})
        span.set_outputs(answer("refunds?"))
    my.tracing.flush()

Evaluation (:func:`evaluate`, scorers as functions or :func:`make_judge` judges, cached by content)
is in :mod:`.evaluate` and :mod:`.judges`.
"""

from __future__ import annotations

from .evaluate import EvaluationResult, Score, evaluate
from .judges import Judge, make_judge
from .records import records_from_traces
from .tracer import LiveSpan, flush, last_trace_id, start_span, trace, update_current_trace

__all__ = ["EvaluationResult", "Judge", "LiveSpan", "Score", "evaluate", "flush", "last_trace_id", "make_judge",
           "records_from_traces", "start_span", "trace", "update_current_trace"]

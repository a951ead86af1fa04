"""Evaluate an LLM application over a dataset: scorers as Python functions or judges, cached by content.

A scorer is a plain function whose parameters name what it needs among ``inputs``,
``outputs`` and ``expectations``; it returns a bool, a number, a string, or a
:class:`Score` (value and rationale). Each row's outputs (from ``predict_fn``, or the row's
own ``outputs``) and each score are cached by a hash of their content: the function's code,
the row's inputs (and outputs and expectations for a score) and the repeat number. Running the
same evaluation again calls nothing and gives identical scores; changing a scorer, the predict
function or a row recomputes only what changed. With ``repeats=k`` every row is predicted and
scored k times (distinct cache entries), and each scorer's variance across repeats is reported.

The evaluation is recorded as a run of the active experiment: ``<scorer>/mean`` (booleans count
as 1 and 0), ``<scorer>/variance`` (mean over rows of the variance across repeats) and, per row,
inputs, outputs, expectations, scores and the row's trace id in the artifact ``eval_results.json``.
As ``mlflow.genai.evaluate`` does, each row (and repeat) is a trace of the run (a root span named
after ``predict_fn``, or ``root_span``, with the row's inputs and outputs; the predict function's own
spans beneath it), and each score is a feedback assessment on it (source ``CODE``, or ``LLM_JUDGE``
for a judge; the run's id in its metadata ``mlflow.assessment.sourceRunId``), each expectation an
expectation assessment: the trace view, the review queue and ``feedback.<scorer> = ...`` searches
show them::

    import modelyard as my

    def exact(outputs, expectations):
        return outputs == expectations["answer"]

    result = my.tracing.evaluate(
        data=[{"inputs": {"q": "refunds?"}, "expectations": {"answer": "30 days"}}],
        predict_fn=lambda q: "30 days",
        scorers=[exact],
    )
    result.metrics["exact/mean"]   # 1.0
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import fluent
from ..entities import Metric, Param
from ..entities.prompts import LINKED_PROMPTS_TAG
from ..entities.scores import score_number
from ..errors import InvalidParameterValue
from . import tracer

_ARGS = ("inputs", "outputs", "expectations")
ASSESSMENT_THREADS = 8  # assessments sent at once (see _log_assessments)


@dataclass
class Score:
    """A scorer's answer with its reason (a judge's rationale)."""

    value: Any
    rationale: str | None = None
    usage: dict[str, Any] | None = None  # a judge's tokens: model, input_tokens, output_tokens, cached_input_tokens
    trace_id: str | None = None  # the trace that recorded the judge's question and its tokens


@dataclass
class EvaluationResult:
    run_id: str
    metrics: dict[str, float]
    rows: list[dict[str, Any]]
    computed: int = 0  # predictions and scores computed (not taken from the cache) by this call
    cached: int = 0  # taken from the cache
    usage: dict[str, Any] = field(default_factory=dict)  # tokens and cost of the run's traces (its judges')


@dataclass
class _Cache:
    folder: Path | None
    hits: int = 0
    misses: int = 0
    memory: dict[str, Any] = field(default_factory=dict)

    def get_or(self, key: str, compute: Callable[[], Any]) -> Any:
        path = None if self.folder is None else self.folder / key[:2] / f"{key}.json"
        if key in self.memory:
            self.hits += 1
            return self.memory[key]
        if path is not None and path.exists():
            self.hits += 1
            value = json.loads(path.read_text(encoding="utf-8"))
            self.memory[key] = value
            return value
        self.misses += 1
        value = compute()
        self.memory[key] = value
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(value, default=str), encoding="utf-8")
            os.replace(tmp, path)
        return value


def _code_id(fn: Callable[..., Any]) -> str:
    """What a function is for the cache: its name and source (its bytecode when there is no source)."""
    identity = getattr(fn, "cache_identity", None)
    if identity is not None:
        return str(identity)
    target = inspect.unwrap(fn)
    try:
        code = inspect.getsource(target)
    except (OSError, TypeError):
        code_obj = getattr(target, "__code__", None)
        code = code_obj.co_code.hex() if code_obj is not None else repr(target)
    return f"{getattr(target, '__qualname__', repr(target))}\n{code}"


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _name(fn: Callable[..., Any]) -> str:
    """The scorer's name as a metric key (``<lambda>`` becomes ``lambda``)."""
    name = str(getattr(fn, "name", None) or getattr(fn, "__name__", "scorer"))
    return re.sub(r"[^\w\-. :/]", "", name) or "scorer"


def _call_scorer(fn: Callable[..., Any], row: dict[str, Any], outputs: Any) -> dict[str, Any]:
    wanted = [p for p in inspect.signature(fn).parameters if p in _ARGS]
    values = {"inputs": row.get("inputs") or {}, "outputs": outputs, "expectations": row.get("expectations") or {}}
    result = fn(**{p: values[p] for p in wanted})
    if isinstance(result, Score):
        out: dict[str, Any] = {"value": result.value, "rationale": result.rationale}
        if result.usage is not None:
            out["usage"] = result.usage
        if result.trace_id is not None:
            out["trace_id"] = result.trace_id
        return out
    return {"value": result, "rationale": None}


def _rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, str):  # an evaluation dataset's id
        return [{k: r.get(k) for k in ("inputs", "outputs", "expectations") if r.get(k) is not None}
                for r in fluent.get_client().get_dataset_records(data)]
    rows = list(data)
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("inputs"), dict):
            raise InvalidParameterValue(f"data[{i}] needs 'inputs', a dict of the predict function's arguments.")
    return rows


def evaluate(
    data: Sequence[dict[str, Any]] | str,
    scorers: Sequence[Callable[..., Any]],
    predict_fn: Callable[..., Any] | None = None,
    *,
    repeats: int = 1,
    run_name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    prompts: Sequence[Any] = (),
) -> EvaluationResult:
    """Predict and score every row ``repeats`` times, record the evaluation as a run; see the module's doc.

    ``data`` is a list of ``{"inputs", "expectations", "outputs"}`` dicts or an evaluation dataset's id.
    The cache lives in ``cache_dir`` (default ``./.modelyard/eval-cache``); ``use_cache=False`` keeps it
    in memory for this call only. ``prompts`` (prompt versions, or ``prompts:/name/version`` URIs) are
    the prompt versions evaluated: listed on the run (tag ``mlflow.linkedPrompts``), where an
    ``evaluation`` promotion gate of the prompt finds the scores.
    """
    if repeats < 1:
        raise InvalidParameterValue(f"Invalid value {repeats} for parameter 'repeats': use 1 or more.")
    if not scorers:
        raise InvalidParameterValue("Pass at least one scorer: a function of inputs, outputs and expectations.")
    rows = _rows(data)
    if predict_fn is None and any("outputs" not in r for r in rows):
        raise InvalidParameterValue("Rows without 'outputs' need a predict_fn to produce them.")
    folder = Path(cache_dir) if cache_dir is not None else Path(".modelyard") / "eval-cache"
    cache = _Cache(folder if use_cache else None)
    predict_id = _code_id(predict_fn) if predict_fn is not None else None
    scorer_ids = [(_name(s), _code_id(s), s) for s in scorers]
    client = fluent.get_client()
    run = client.create_run(fluent.default_experiment_id(), run_name=run_name or "evaluation",
                            tags={"mlflow.runType": "evaluation",
                                  **({LINKED_PROMPTS_TAG: _linked(prompts)} if prompts else {})})
    run_id = run.info.run_id
    try:
        with tracer.traces_linked_to(run_id):  # the rows' and judges' traces (tokens and cost) belong to the run
            results, values = _score_rows(rows, repeats, predict_fn, predict_id, scorer_ids, cache)
        tracer.flush()
        _log_assessments(client, run_id, results, {name: fn for name, _, fn in scorer_ids})
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    metrics: dict[str, float] = {}
    for name, per_row in values.items():
        if per_row:
            metrics[f"{name}/mean"] = statistics.fmean(v for row_values in per_row for v in row_values)
            metrics[f"{name}/variance"] = statistics.fmean(
                statistics.pvariance(row_values) for row_values in per_row)
    now = int(time.time() * 1000)
    params = {"repeats": str(repeats), "rows": str(len(rows)), "scorers": ",".join(n for n, _, _ in scorer_ids),
              **({"dataset_id": data} if isinstance(data, str) else {})}
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                     params=[Param(k, v[:6000]) for k, v in params.items()])
    client.log_dict(run_id, {"rows": results}, "eval_results.json")
    client.set_terminated(run_id)
    return EvaluationResult(run_id, metrics, results, computed=cache.misses, cached=cache.hits,
                            usage=client.run_usage(run_id))


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _log_assessments(client: Any, run_id: str, results: list[dict[str, Any]],
                     scorers: dict[str, Callable[..., Any]]) -> None:
    """Each row's scores as feedback on its trace, and its expectations as expectations (as MLflow's evaluate).

    Sent from a few threads: over HTTP their round trips overlap, and embedded, writes that arrive together
    share one commit (the store's writer), so a thousand assessments cost a few commits, not a thousand."""
    from .judges import Judge

    bodies: list[tuple[str, dict[str, Any]]] = []
    for row in results:
        trace_id, span_id = row["trace_id"], row["span_id"]
        for name, score in row["scores"].items():
            judge = isinstance(scorers[name], Judge)
            metadata = {"mlflow.assessment.sourceRunId": run_id}
            if score.get("trace_id"):
                metadata["mlflow.assessment.scorerTraceId"] = str(score["trace_id"])
            body: dict[str, Any] = {
                "assessment_name": name, "span_id": span_id, "feedback": {"value": _json(score["value"])},
                "source": {"source_type": "LLM_JUDGE" if judge else "CODE", "source_id": name},
                "metadata": metadata}
            if score.get("rationale"):
                body["rationale"] = str(score["rationale"])
            bodies.append((trace_id, body))
        for name, value in (row.get("expectations") or {}).items():
            bodies.append((trace_id, {
                "assessment_name": str(name), "span_id": span_id, "expectation": {"value": _json(value)},
                "source": {"source_type": "HUMAN", "source_id": "evaluation dataset"},
                "metadata": {"mlflow.assessment.sourceRunId": run_id}}))
    with ThreadPoolExecutor(max_workers=ASSESSMENT_THREADS, thread_name_prefix="modelyard-assessments") as pool:
        for _ in pool.map(lambda pair: client.log_assessment(*pair), bodies):
            pass  # an error is raised here


def _linked(prompts: Sequence[Any]) -> str:
    """The ``mlflow.linkedPrompts`` value for prompt versions given as objects, ``name/version`` or URIs."""
    entries: list[dict[str, str]] = []
    for p in prompts:
        if hasattr(p, "name") and hasattr(p, "version"):
            name, version = str(p.name), str(p.version)
        else:
            name, _, version = str(p).removeprefix("prompts:/").partition("/")
        if not name or not version.isdigit():
            raise InvalidParameterValue(f"prompts: {p!r} is not a prompt version; give one loaded with load_prompt"
                                        " or 'prompts:/NAME/VERSION'.")
        if {"name": name, "version": version} not in entries:
            entries.append({"name": name, "version": version})
    return json.dumps(entries)


def _score_rows(rows: list[dict[str, Any]], repeats: int, predict_fn: Callable[..., Any] | None,
                predict_id: str | None, scorer_ids: list[tuple[str, str, Callable[..., Any]]],
                cache: _Cache) -> tuple[list[dict[str, Any]], dict[str, list[list[float]]]]:
    results: list[dict[str, Any]] = []
    values: dict[str, list[list[float]]] = {name: [] for name, _, _ in scorer_ids}
    root_name = str(getattr(predict_fn, "__name__", None) or "root_span")
    for row in rows:
        inputs = row["inputs"]
        per_scorer: dict[str, list[float]] = {name: [] for name, _, _ in scorer_ids}
        for k in range(repeats):
            with tracer.start_span(root_name, "CHAIN") as span:  # the row's trace, which its scores annotate
                span.set_inputs(inputs)
                if predict_fn is not None:
                    outputs = cache.get_or(_key("predict", predict_id, inputs, k),
                                           functools.partial(predict_fn, **inputs))
                else:
                    outputs = row["outputs"]
                span.set_outputs(outputs)
            scores = {}
            for name, sid, fn in scorer_ids:
                key = _key("score", sid, inputs, outputs, row.get("expectations"), k)
                before = cache.hits
                scores[name] = cache.get_or(key, functools.partial(_call_scorer, fn, row, outputs))
                if cache.hits > before and "usage" in scores[name]:  # a judge's answer reused: nothing spent now
                    scores[name] = {**scores[name], "cached": True}
                number = score_number(scores[name]["value"])
                if number is not None:
                    per_scorer[name].append(number)
            results.append({"inputs": inputs, "expectations": row.get("expectations"), "outputs": outputs,
                            "repeat": k, "scores": scores, "trace_id": span.trace_id, "span_id": span.span_id})
        for name, got in per_scorer.items():
            if got:
                values[name].append(got)
    return results, values

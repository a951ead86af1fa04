"""Evaluation pages: an evaluation dataset with its evaluation runs, and two or more evaluations side by side.

An evaluation is a run tagged ``mlflow.runType = evaluation`` (``my.tracing.evaluate``); its per-row
results are the artifact ``eval_results.json`` (inputs, outputs, expectations, repeat, the row's trace,
and per scorer the value, a judge's rationale and tokens); an evaluation by ``mlflow.genai.evaluate`` has its rows
as the run's traces instead (root span inputs and outputs, feedback assessments as scores). The comparison lines rows up by inputs and repeat; the
oldest run chosen is the baseline: each other run's aggregate score shows its difference from it, and a
row whose numeric score is lower than the baseline's is marked as a regression. Each run's cost is
its traces' (its judges'), priced from the price table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...entities import Run
from ...entities.scores import score_number
from ...errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from ...service import TrackingService
from ..auth import readable, require
from .artifacts import _read, _repo
from .render import render, service

RESULTS = "eval_results.json"
MAX_RESULTS_BYTES = 20_000_000
MAX_COMPARED = 10
MAX_ROWS = 500
MAX_RUNS = 200
RECORDS_SHOWN = 50
EVALUATION_FILTER = "tags.`mlflow.runType` = 'evaluation'"


def _results(svc: TrackingService, run: Run) -> list[dict[str, Any]] | None:
    """The run's per-row results, or None when it has none (an evaluation from another client)."""
    try:
        data, cut = _read(_repo(svc, run), RESULTS, MAX_RESULTS_BYTES)
    except (ResourceDoesNotExist, ModelyardError, OSError):
        return None
    if cut:
        return None
    try:
        rows = json.loads(data).get("rows")
    except (ValueError, AttributeError):
        return None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else None


def _plain(value: Any) -> Any:
    """An attribute value as MLflow's client writes it (JSON text), decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _from_traces(svc: TrackingService, run: Run) -> list[dict[str, Any]] | None:
    """Rows of an evaluation recorded as traces (``mlflow.genai.evaluate``): per trace of the run, its root
    span's inputs and outputs, its expectations and its feedback (value and rationale) as the scores."""
    from ...entities.traces import decode_any_value

    try:
        infos, _ = svc.traces.search([run.info.experiment_id], f"trace.run_id = '{run.info.run_id}'",
                                     max_results=MAX_ROWS, order_by=["timestamp_ms ASC"])
    except ModelyardError:
        return None
    rows = []
    for info in infos:
        _, spans, _ = svc.traces.get_trace(info.trace_id, max_spans=1)
        root = json.loads(spans[0].content) if spans else {}
        attrs = {a["key"]: decode_any_value(a.get("value") or {}) for a in root.get("attributes", [])}
        valid = [a for a in info.assessments if a.get("valid", True) is not False]
        inputs = _plain(attrs.get("mlflow.spanInputs"))
        rows.append({
            "inputs": inputs if isinstance(inputs, dict) else {"inputs": inputs},
            "outputs": _plain(attrs.get("mlflow.spanOutputs")), "repeat": 0, "trace_id": info.trace_id,
            "expectations": {a["assessment_name"]: (a["expectation"] or {}).get("value")
                             for a in valid if "expectation" in a} or None,
            "scores": {a["assessment_name"]: {"value": (a["feedback"] or {}).get("value"),
                                              "rationale": a.get("rationale"), "trace_id": info.trace_id}
                       for a in valid if "feedback" in a}})
    return rows or None


def _cost(svc: TrackingService, run_id: str) -> dict[str, Any]:
    try:
        return svc.usage.of_run(run_id)
    except ModelyardError:
        return {}


def _evaluations(svc: TrackingService, experiment_ids: list[str], dataset_id: str) -> list[Run]:
    if not experiment_ids:
        return []
    where = f"{EVALUATION_FILTER} AND params.dataset_id = '{dataset_id}'"
    return list(svc.runs.search(experiment_ids, where, max_results=MAX_RUNS,
                                order_by=["attributes.start_time DESC"]).items)


def dataset_page(request: Request) -> Response:
    svc = service(request)
    dataset = svc.datasets.get(request.path_params["dataset_id"])
    records, more = svc.datasets.records(dataset.dataset_id, max_results=RECORDS_SHOWN)
    allowed = readable(request, "experiment", dataset.experiment_ids)
    experiments = [e for e in dataset.experiment_ids if e in allowed]
    runs = _evaluations(svc, experiments, dataset.dataset_id)
    costs = {r.info.run_id: _cost(svc, r.info.run_id) for r in runs}
    scorers = sorted({k for r in runs for k in r.data.metrics if k.endswith("/mean")})
    return render(request, "dataset.html", section="experiments", dataset=dataset, records=records,
                  more=more is not None, runs=runs, costs=costs, scorers=scorers, shown=RECORDS_SHOWN, show=_show)


@dataclass
class Cell:
    """One run's answer to one row: its outputs and, per scorer, value, rationale, tokens and verdict."""

    outputs: Any = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: bool = False
    trace_id: str | None = None  # the row's trace, where its scores are feedback assessments


def _key(row: dict[str, Any]) -> str:
    return json.dumps([row.get("inputs"), row.get("repeat", 0)], sort_keys=True, default=str)


def compare_page(request: Request) -> Response:
    svc = service(request)
    run_ids = list(dict.fromkeys(r for r in request.query_params.getlist("run") if r))
    if len(run_ids) < 2:
        raise InvalidParameterValue("Choose two or more evaluation runs to compare: ?run=<id>&run=<id>"
                                    " (the oldest is the baseline).")
    if len(run_ids) > MAX_COMPARED:
        raise InvalidParameterValue(f"Compare at most {MAX_COMPARED} evaluation runs at once.")
    for rid in run_ids:
        require(request, "READ", "run", rid)
    runs = sorted((svc.runs.get(rid) for rid in run_ids), key=lambda r: (r.info.start_time or 0, r.info.run_id))
    run_ids = [r.info.run_id for r in runs]  # the oldest first: the baseline
    results = [_results(svc, r) or _from_traces(svc, r) for r in runs]
    scorers = sorted({k[: -len("/mean")] for r in runs for k in r.data.metrics if k.endswith("/mean")}
                     | {s for rows in results for row in rows or [] for s in (row.get("scores") or {})})
    aggregates = []
    for s in scorers:
        values = [r.data.metrics.get(f"{s}/mean") for r in runs]
        base = values[0]
        aggregates.append({"scorer": s, "values": values,
                           "diffs": [None if v is None or base is None else v - base for v in values]})
    # Rows in the order of the first run that has them, lined up by inputs and repeat.
    order: dict[str, dict[str, Any]] = {}
    for rows in results:
        for row in rows or []:
            order.setdefault(_key(row), row)
    keys = list(order)[:MAX_ROWS]
    by_run = [{_key(row): row for row in rows or []} for rows in results]
    table = []
    regressions = 0
    for key in keys:
        cells = []
        for i, found in enumerate(by_run):
            if key not in found:
                cells.append(Cell(missing=True))
                continue
            row = found[key]
            scores = {}
            for s in scorers:
                score = (row.get("scores") or {}).get(s)
                if not isinstance(score, dict):
                    continue
                mine = score_number(score.get("value"))
                theirs = (by_run[0].get(key) or {}).get("scores", {}).get(s) if i else None
                base = score_number(theirs.get("value")) if isinstance(theirs, dict) else None
                verdict = None if mine is None or base is None or mine == base else (
                    "regressed" if mine < base else "improved")
                regressions += verdict == "regressed"
                scores[s] = {**score, "verdict": verdict}
            trace_id = row.get("trace_id")
            cells.append(Cell(row.get("outputs"), scores, trace_id=trace_id if isinstance(trace_id, str) else None))
        first = order[key]
        table.append({"inputs": first.get("inputs"), "expectations": first.get("expectations"),
                      "repeat": first.get("repeat", 0), "cells": cells,
                      "regressed": any(sc["verdict"] == "regressed" for c in cells for sc in c.scores.values())})
    costs = [_cost(svc, rid) for rid in run_ids]
    dataset_ids = {r.data.params.get("dataset_id") for r in runs} - {None}
    return render(request, "evaluation_compare.html", section="experiments", runs=runs, scorers=scorers,
                  aggregates=aggregates, table=table, costs=costs, regressions=regressions,
                  truncated=len(order) > MAX_ROWS, max_rows=MAX_ROWS,
                  without_rows=[r for r, rows in zip(runs, results, strict=True) if rows is None],
                  dataset_id=next(iter(dataset_ids)) if len(dataset_ids) == 1 else None,
                  show=_show)


def _show(value: Any) -> str:
    """A value as text for the page (escaped by the template): strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)

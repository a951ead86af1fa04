"""Compare runs: overlaid metric histories, parallel coordinates, a scatter, a params diff."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...entities import Run
from ...errors import InvalidParameterValue
from ...service.runs import MAX_BULK_INTERVAL_RUNS
from ..auth import require
from . import plots
from .charts import labels, run_color
from .render import render, service

MAX_PARALLEL_PARAMS = 8


def _value(run: Run, token: str) -> Any:
    kind, _, key = token.partition(":")
    return (run.data.metrics if kind == "metrics" else run.data.params).get(key)


def compare_page(request: Request) -> Response:
    svc = service(request)
    qp = request.query_params
    run_ids = list(dict.fromkeys(r for r in qp.getlist("run") if r))
    if not run_ids:
        return render(request, "compare_empty.html", section="experiments")
    if len(run_ids) > MAX_BULK_INTERVAL_RUNS:
        raise InvalidParameterValue(f"Compare at most {MAX_BULK_INTERVAL_RUNS} runs at once.")
    for rid in run_ids:
        require(request, "READ", "run", rid)
    runs = [svc.runs.get(rid) for rid in run_ids]
    named = labels(runs)  # a short id beside names that several runs share
    names = [named[r.info.run_id] for r in runs]
    colors = [run_color(r.info.run_id) for r in runs]
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    # By default a metric with a history (points past step 0), rather than a single value.
    stepped = sorted({m.key for r in runs for m in r.data.metric_objects if m.step > 0})
    metric = qp.get("metric") or next(iter(stepped + metric_keys), "")
    diff_only = qp.get("diff") == "1"
    param_rows = []
    for key in param_keys:
        values = [r.data.params.get(key) for r in runs]
        differs = len(set(values)) > 1
        if differs or not diff_only:
            param_rows.append((key, values, differs))
    varying = [k for k, _, d in param_rows if d] or param_keys
    parallel = plots.parallel(
        [(k, [r.data.params.get(k) for r in runs]) for k in varying[:MAX_PARALLEL_PARAMS]]
        + ([(metric, [r.data.metrics.get(metric) for r in runs])] if metric else []),
        names,
    )
    choices = [f"params:{k}" for k in param_keys] + [f"metrics:{k}" for k in metric_keys]
    x = qp.get("x") or (choices[0] if choices else "")
    y = qp.get("y") or (f"metrics:{metric}" if metric else x)
    scatter = plots.scatter([_value(r, x) for r in runs], [_value(r, y) for r in runs], names, colors,
                            x.partition(":")[2], y.partition(":")[2]) if x and y else {}
    experiments = {r.info.experiment_id for r in runs}
    experiment = svc.experiments.get(next(iter(experiments))) if len(experiments) == 1 else None
    return render(
        request, "compare.html", section="experiments", runs=runs, run_ids=run_ids, metric=metric,
        metric_keys=metric_keys, param_rows=param_rows, diff_only=diff_only, parallel=parallel,
        scatter=scatter, choices=choices, x=x, y=y, experiment=experiment, color=colors.__getitem__, names=names,
        params={"run": run_ids, "metric": metric or None, "x": x or None, "y": y or None, "diff": "1" if diff_only else None},
    )

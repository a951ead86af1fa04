"""Cost and latency alerts: a monitor whose window is a set of traces instead of the serving request log.

A monitor with ``source: {"kind": "traces"}`` watches the traces of what it monitors — the prompt
version (traces linked to it) when the registered model is a prompt, else the model version (the
traces of its logged model and of its run) — or, with ``"experiment_ids": [...]``, every trace of
those experiments (the registered model then only owns the monitor: its permissions, its page).
The window is the monitor's (``window_minutes``, or the last ``window_rows`` traces). Each run
computes::

    traces, error_rate, latency_mean_ms, latency_p95_ms,
    cost_total, cost_per_trace_mean, cost_per_trace_p95, tokens_per_trace_mean

(cost from the price table as it is when the monitor runs; traces of unpriced models cost 0 and are
named in the report) and then goes through the monitoring machinery as any run: the rules
(``{"metric": "latency_p95_ms", "op": ">", "threshold": 2000}``), consecutive runs, cooldown, the
alert history, ``monitor_alert.fired`` webhooks and pipeline triggers.

This module registers the ``traces`` source in :data:`modelyard.service.monitoring.SOURCES`.
"""

from __future__ import annotations

import logging
import math
import statistics
from typing import TYPE_CHECKING, Any

from ..entities.monitoring import MonitorResult
from ..entities.prompts import is_prompt
from ..entities.usage import price_for
from ..errors import InvalidParameterValue
from ..store.workspaces import model_key

if TYPE_CHECKING:
    from sqlalchemy import Select

    from ..entities.monitoring import Monitor
    from .monitoring import MonitoringService

__all__ = ["METRICS", "check_source", "run"]

log = logging.getLogger("modelyard.monitoring")

KIND = "traces"
METRICS = ("traces", "error_rate", "latency_mean_ms", "latency_p95_ms", "cost_total", "cost_per_trace_mean",
           "cost_per_trace_p95", "tokens_per_trace_mean")
MAX_EXPERIMENTS = 100
MAX_TRACES = 50_000


def check_source(source: Any) -> dict[str, Any]:
    """The ``source`` of a monitor validated: ``{"kind": "traces", "experiment_ids": [...]}`` (ids optional)."""
    unknown = set(source) - {"kind", "experiment_ids"}
    if unknown:
        raise InvalidParameterValue(f"source: unknown field(s) {sorted(unknown)}; a traces source takes"
                                    " kind and experiment_ids.")
    ids = source.get("experiment_ids")
    if ids is None:
        return {"kind": KIND}
    if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_EXPERIMENTS
            or not all(isinstance(i, (str, int)) and not isinstance(i, bool) and str(i).isdigit() for i in ids)):
        raise InvalidParameterValue(f"source.experiment_ids: {ids!r}; give a list of 1 to {MAX_EXPERIMENTS}"
                                    " experiment ids, e.g. [\"1\"], or omit it to watch the version's traces.")
    return {"kind": KIND, "experiment_ids": [str(i) for i in ids]}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _which(mon: MonitoringService, m: Monitor, version: str) -> tuple[list[Select[Any]], list[int], str]:
    """The traces the monitor watches: selects of trace pks and experiment ids, and what they are in words."""
    svc, usage = mon.service, mon.store.usage
    ids = m.spec["source"].get("experiment_ids")
    if ids:
        for exp_id in ids:
            svc.experiments.get(exp_id)  # a deleted experiment says so
        return [], [int(i) for i in ids], f"experiments {', '.join(ids)}"
    if is_prompt(svc.registry.get_registered_model(m.model_name).tags):
        watched = f"traces of prompt {m.model_name} version {version}"
        return [usage.of_prompt(model_key(m.model_name), version)], [], watched  # (its workspace's traces)
    mv = svc.registry.get_model_version(m.model_name, version)
    traces = ([usage.of_logged_model(mv.model_id)] if mv.model_id else []) + (
        [usage.of_run(mv.run_id)] if mv.run_id else [])
    if not traces:
        raise InvalidParameterValue(
            f"Model {m.model_name} version {version} has no logged model or run, so no traces: give the monitor's"
            " source experiment_ids.")
    return traces, [], f"traces of model {m.model_name} version {version}"


def _metrics(mon: MonitoringService, rows: list[tuple[int, int | None, str]]) -> tuple[dict[str, float | None],
                                                                                      dict[str, Any]]:
    store = mon.store.usage
    prices = store.prices()
    cost: dict[int, float] = {pk: 0.0 for pk, _, _ in rows}
    tokens: dict[int, int] = {pk: 0 for pk, _, _ in rows}
    unpriced: set[str] = set()
    for pk, model, inputs, outputs, cached in store.per_trace(list(cost)):
        tokens[pk] += inputs + outputs
        price = price_for(model, prices)
        if price is None:
            unpriced.add(str(model))
        else:
            cost[pk] += price.cost(inputs, outputs, cached)
    latencies = [float(ms) for _, ms, _ in rows if ms is not None]
    n = len(rows)
    metrics: dict[str, float | None] = {"traces": float(n)}
    if n:
        metrics.update(error_rate=sum(1 for _, _, state in rows if state == "ERROR") / n,
                       cost_total=sum(cost.values()), cost_per_trace_mean=statistics.fmean(cost.values()),
                       cost_per_trace_p95=_p95(list(cost.values())),
                       tokens_per_trace_mean=statistics.fmean(tokens.values()))
    if latencies:
        metrics.update(latency_mean_ms=statistics.fmean(latencies), latency_p95_ms=_p95(latencies))
    return metrics, {"unpriced_models": sorted(unpriced)}


def run(mon: MonitoringService, m: Monitor, now: int) -> MonitorResult:
    """Run a traces monitor on its window now, then its rules, alerts and triggers as any monitor's."""
    from .monitoring import MAX_WINDOW_ROWS

    if m.alias is not None:
        version = mon.service.registry.get_model_version_by_alias(m.model_name, m.alias).version
    else:
        version = str(m.model_version)
    start = None if m.spec.get("window_minutes") is None else now - int(m.spec["window_minutes"] * 60_000)
    limit = min(int(m.spec.get("window_rows") or MAX_WINDOW_ROWS), MAX_TRACES)
    selects, experiments, what = _which(mon, m, version)
    rows = mon.store.usage.window(selects, experiments, start, now + 1, limit)
    metrics, report = _metrics(mon, rows)
    report.update(model_version=version, source=KIND, watched=what, traces=len(rows))
    return mon.finish_run(m, version, now, start, len(rows), 0, metrics, report)


def _register() -> None:
    from .monitoring import SOURCES

    SOURCES[KIND] = (check_source, run)


_register()

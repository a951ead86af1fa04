"""Monitoring: reference profiles per model version, monitors, their runs, alert rules and alerts.

A monitor watches one registered model (a version, or whatever version an
alias points at when it runs) through a window of the serving request log
(the last ``window_minutes`` or the last ``window_rows`` requests). A run
compares the window with the version's reference profile (drift, data
quality), scores the rows whose labels have arrived (performance) and the
prediction rate, then checks the monitor's rules. A rule is
``{"name", "metric", "op", "threshold", "consecutive", "cooldown_s", "trigger"}``:
it fires when ``metric op threshold`` held in the last ``consecutive`` runs, and
not again while its last alert is open and younger than ``cooldown_s``. The
result, its alerts and their webhook events (``monitor_alert.fired``) commit in
one transaction; each alert is also logged, and a rule with a ``trigger`` (a
pipeline trigger's name) then fires it: a retraining run, once per alert.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

from ..entities.monitoring import Alert, Monitor, MonitorResult
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.workspaces import model_key, scope, split_model_key, within
from .caller import visibility

log = logging.getLogger("modelyard.monitoring")

__all__ = ["MAX_PROFILE_BYTES", "OPS", "MonitoringService"]

MAX_PROFILE_BYTES = 20_000_000
MAX_WINDOW_ROWS = 50_000
MAX_RESULTS = 1000
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
TASKS = ("classification", "multilabel", "regression")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RUNS_EXPERIMENT = "monitors"
_SPEC_KEYS = ("window_minutes", "window_rows", "rules", "alpha", "thresholds", "description", "source")
# Windows other than the serving request log, by ``source.kind``: (check the source, run the monitor).
# trace_alerts.py registers "traces" (cost and latency over traces).
SOURCES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]],
                         Callable[[MonitoringService, Monitor, int], MonitorResult]]] = {}


def now_ms() -> int:
    return int(time.time() * 1000)


class MonitoringService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service
        self.clock: Callable[[], int] = now_ms
        self.lease_ms = int(service.settings.monitor_lease_seconds * 1000)
        self.min_reference_rows = service.settings.monitoring_min_reference_rows

    # ---- reference profiles ---------------------------------------------------

    def set_reference(self, model_name: str, version: str, profile: Any) -> dict[str, Any]:
        """Store ``profile`` (from :func:`modelyard.monitoring.profile`) as the reference of a model version."""
        from ..monitoring.profile import check_profile

        mv = self.service.registry.get_model_version(model_name, version)
        key = model_key(model_name)
        check_profile(profile)
        rows = profile.get("rows")
        if not isinstance(rows, int) or rows < self.min_reference_rows:
            raise InvalidParameterValue(
                f"profile: built from {rows} rows; a reference needs at least {self.min_reference_rows}"
                " (MODELYARD_MONITORING_MIN_REFERENCE_ROWS): profile the training data, not an input example.")
        size = len(json.dumps(profile))
        if size > MAX_PROFILE_BYTES:
            raise InvalidParameterValue(f"profile: {size} bytes is more than {MAX_PROFILE_BYTES}; profile fewer columns.")
        self.store.monitoring.set_reference(key, mv.version, profile, self.clock())
        return {"model_name": mv.name, "model_version": mv.version, "rows": profile.get("rows"),
                "columns": len(profile["columns"])}

    def get_reference(self, model_name: str, version: str) -> dict[str, Any]:
        mv = self.service.registry.get_model_version(model_name, version)
        found = self.store.monitoring.get_reference(model_key(model_name), mv.version)
        if found is None:
            raise ResourceDoesNotExist(
                f"Model {mv.name} version {mv.version} has no reference profile; set one with"
                " `modelyard monitor reference set` or log_model(..., reference_data=df)."
            )
        return found

    def delete_reference(self, model_name: str, version: str) -> None:
        if not self.store.monitoring.delete_reference(model_key(model_name), str(version)):
            raise ResourceDoesNotExist(f"Model {model_name} version {version} has no reference profile.")

    # ---- monitors -------------------------------------------------------------

    def create_monitor(self, name: str, model_name: str, *, version: str | None = None, alias: str | None = None,
                       task: str | None = None, interval_s: int | None = None, **spec: Any) -> Monitor:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidParameterValue(
                f"name: {name!r} is not a monitor name; use 1-128 letters, digits, '.', '_' or '-'.")
        self.service.registry.get_registered_model(model_name)
        now = self.clock()
        # The model by its key: a monitor watches the model of the workspace it was made in, whoever reads it.
        m = Monitor(name, model_key(model_name), None, None, None, {}, None, now, now, None)
        self._apply(m, version, alias, task, interval_s, spec, now)
        return self.store.monitoring.create_monitor(m)

    def update_monitor(self, name: str, *, version: str | None = None, alias: str | None = None,
                       task: str | None = None, interval_s: int | None = None, **spec: Any) -> Monitor:
        m = self.store.monitoring.get_monitor(name)
        now = self.clock()
        if version is not None or alias is not None:
            m.model_version = m.alias = None
        merged = {**m.spec, **{k: v for k, v in spec.items() if v is not None}}
        self._apply(m, version or m.model_version, alias or m.alias, task or m.task,
                    m.interval_s if interval_s is None else (interval_s or None), merged, now)
        m.updated_ms = now
        return self.store.monitoring.update_monitor(m)

    def _apply(self, m: Monitor, version: str | None, alias: str | None, task: str | None, interval_s: int | None,
               spec: dict[str, Any], now: int) -> None:
        unknown = set(spec) - set(_SPEC_KEYS) - ({"run_id"} if "run_id" in m.spec else set())
        if unknown:
            raise InvalidParameterValue(f"monitor: unknown field(s) {sorted(unknown)}; known: {', '.join(_SPEC_KEYS)}.")
        if (version is None) == (alias is None):
            raise InvalidParameterValue("monitor: give exactly one of version (a number) or alias (champion).")
        if version is not None and (not str(version).isascii() or not str(version).isdigit() or len(str(version)) > 10):
            raise InvalidParameterValue(f"version: {version!r} is not a version number.")
        if alias is not None:
            from .registry import check_alias

            check_alias(alias)
        if task is not None and task not in TASKS:
            raise InvalidParameterValue(f"task: {task!r} is unknown; use one of {', '.join(TASKS)}.")
        if interval_s is not None and (isinstance(interval_s, bool) or not isinstance(interval_s, int)
                                       or not 10 <= interval_s <= 31 * 86400):
            raise InvalidParameterValue(f"interval_s: {interval_s!r}; give whole seconds from 10 to 2678400, or omit it.")
        minutes, rows = spec.get("window_minutes"), spec.get("window_rows")
        if minutes is not None and (not isinstance(minutes, (int, float)) or isinstance(minutes, bool)
                                    or not 0 < minutes <= 366 * 24 * 60):
            raise InvalidParameterValue(f"window_minutes: {minutes!r}; give a number of minutes > 0, at most a year.")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or not 1 <= rows <= MAX_WINDOW_ROWS):
            raise InvalidParameterValue(f"window_rows: {rows!r}; give a number of requests from 1 to {MAX_WINDOW_ROWS}.")
        if minutes is None and rows is None:
            spec["window_rows"] = 10_000
        alpha = spec.get("alpha", 0.05)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
            raise InvalidParameterValue(f"alpha: {alpha!r}; give a probability between 0 and 1 (0.05).")
        thresholds = spec.get("thresholds")
        if thresholds is not None:
            from ..monitoring.drift import check_thresholds

            if not isinstance(thresholds, dict):
                raise InvalidParameterValue("thresholds: give {method: number}, e.g. {\"psi\": 0.2}.")
            check_thresholds(thresholds)
        source = spec.get("source")
        if source is not None:
            if not isinstance(source, dict) or source.get("kind") not in SOURCES:
                raise InvalidParameterValue(f"source: {source!r}; give {{\"kind\": ...}} with kind one of"
                                            f" {', '.join(SOURCES)}, or omit it to watch the serving request log.")
            spec["source"] = SOURCES[source["kind"]][0](source)
        description = spec.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 5000):
            raise InvalidParameterValue("description: give text of at most 5000 characters.")
        spec["rules"] = [_check_rule(r, i) for i, r in enumerate(spec.get("rules") or [])]
        for i, rule in enumerate(spec["rules"]):
            if rule["trigger"] is not None:
                try:
                    self.service.pipelines.get_trigger(rule["trigger"])
                except ResourceDoesNotExist:
                    raise InvalidParameterValue(
                        f"rules[{i}].trigger: no pipeline trigger named {rule['trigger']!r}; create one with"
                        " `modelyard pipelines trigger create NAME PIPELINE --kind api`.") from None
        m.model_version, m.alias, m.task, m.interval_s, m.spec = (
            None if version is None else str(version), alias, task, interval_s, spec)
        m.next_run_ms = None if interval_s is None else now + interval_s * 1000

    def get_monitor(self, name: str) -> Monitor:
        return self.store.monitoring.get_monitor(name)

    def list_monitors(self, model_name: str | None = None, max_results: int = 100, offset: int = 0) -> list[Monitor]:
        _check_page(max_results, offset)
        return self.store.monitoring.list_monitors(None if model_name is None else model_key(model_name), max_results,
                                                   offset, visibility())

    def delete_monitor(self, name: str) -> None:
        self.store.monitoring.delete_monitor(name)

    # ---- runs -------------------------------------------------------------------

    def run_monitor(self, name: str, now: int | None = None) -> MonitorResult:
        """Run a monitor on its window now: score, check its rules, store the result with its alerts."""
        from ..monitoring import as_columns, check_quality, drift_report
        from ..monitoring.performance import performance, prediction_rate, rows_from_records

        m = self.store.monitoring.get_monitor(name)
        now = self.clock() if now is None else now
        source = SOURCES.get(str((m.spec.get("source") or {}).get("kind")))
        if source is not None:
            return source[1](self, m, now)
        if m.alias is not None:
            version = self.service.registry.get_model_version_by_alias(m.model_name, m.alias).version
        else:
            version = m.model_version
        start = None
        if m.spec.get("window_minutes") is not None:
            start = now - int(m.spec["window_minutes"] * 60_000)
        limit = int(m.spec.get("window_rows") or MAX_WINDOW_ROWS)
        records = self.service.inference.search(m.model_name, version, start, now + 1, limit, 0)
        inputs, preds, labels = rows_from_records(records, m.task or "classification")
        frame = _frame(inputs)
        report: dict[str, Any] = {"model_version": version, "requests": len(records)}
        metrics: dict[str, float | None] = {"requests": float(len(records)), "rows": float(len(preds))}
        if m.task == "classification":
            from ..monitoring.performance import probabilities_from_records

            classes, prob_rows = probabilities_from_records(records)
            if classes is not None:
                report["probabilities"] = {"classes": classes, "rows": sum(r is not None for r in prob_rows)}
        reference = self.store.monitoring.get_reference(m.model_name, version) if version else None
        if reference is not None and frame:
            window = as_columns(frame, "window")  # once, for drift and quality
            drift = drift_report(reference, window, alpha=float(m.spec.get("alpha", 0.05)),
                                 thresholds=m.spec.get("thresholds"))
            report["drift"] = drift
            metrics["dataset_drift"] = float(drift["dataset_drift"])
            metrics["share_drifted"] = drift["share_drifted"]
            for col in drift["columns"][:100]:
                metrics[f"drift.{col['column']}"] = col["statistic"]
            quality = check_quality(reference, window)
            report["quality"] = quality
            metrics["quality_failed"] = float(len(quality["failed"]))
        elif reference is None:
            report["note"] = f"version {version} has no reference profile: no drift or data-quality checks"
        metrics["prediction_rate"] = prediction_rate(preds)
        pairs = [(p, t) for p, t in zip(preds, labels, strict=True) if t is not None]
        metrics["labelled"] = float(len(pairs))
        if pairs and m.task and not (m.task == "classification" and report.get("probabilities")):
            perf = performance(m.task, [t for _, t in pairs], [p for p, _ in pairs])
            report["performance"] = perf
            metrics.update({k: v for k, v in perf.items() if isinstance(v, (int, float)) and k != "rows"})
        if m.task == "classification":
            self._estimate(records, preds, labels, pairs, report, metrics)
        return self.finish_run(m, version, now, start, len(preds), len(pairs), metrics, report)

    def finish_run(self, m: Monitor, version: str | None, now: int, start: int | None, rows: int, labelled: int,
                   metrics: dict[str, float | None], report: dict[str, Any]) -> MonitorResult:
        """A monitor run's end, whatever its source: its rules, the result and its alerts stored in one
        unit of work, the alerts' triggers fired and the run logged with its scores as metrics."""
        alerts = self._check_rules(m, metrics, now)
        result = MonitorResult(0, m.name, version, now, start, now, rows, labelled, _clean(metrics), report)
        next_run = None if m.interval_s is None else now + m.interval_s * 1000
        result.id, stored = self.store.monitoring.record_result(result, alerts, next_run, _alert_event)
        triggers = {r["name"]: r.get("trigger") for r in m.spec.get("rules", [])}
        for a in stored:
            log.warning("monitor %s: alert %s: %s", m.name, a.rule, a.message)
            if triggers.get(a.rule):
                self._fire(str(triggers[a.rule]), a)
        self._log_run(m, result)
        return result

    def _estimate(self, records: list[Any], preds: list[Any], labels: list[Any], pairs: list[tuple[Any, Any]],
                  report: dict[str, Any], metrics: dict[str, float | None]) -> None:
        """Confidence-based performance estimation (CBPE) of a classifier, and the realised scores beside it.

        From the class probabilities the request log kept (a model with
        ``predict_proba``): ``estimated_*`` over every row of the window, so
        before any label arrives. Once labels arrive, the realised scores of the
        labelled rows (ROC AUC too, from the positive class's probability) and
        ``report["estimate_vs_realised"]``: the estimate over those same rows
        beside what they scored. A model whose outputs are themselves
        probabilities (floats in [0, 1]) is estimated from them, as before.
        """
        from ..monitoring.performance import (
            estimate_from_probabilities,
            estimate_performance,
            performance,
            probabilities_from_records,
        )

        classes, prob_rows = probabilities_from_records(records)
        if classes is None:
            probs = [p for p in preds if isinstance(p, float) and 0 <= p <= 1]
            if probs and len(probs) == len(preds) and not pairs:
                report["estimated_performance"] = est = estimate_performance(probs)
                metrics.update({f"estimated_{k}": v for k, v in est.items() if isinstance(v, float)})
            return
        known = [r for r in prob_rows if r is not None]
        report["estimated_performance"] = est = estimate_from_probabilities(classes, known)
        metrics.update({f"estimated_{k}": v for k, v in est.items() if isinstance(v, float)})
        labelled = [i for i, t in enumerate(labels) if t is not None]
        if not labelled:
            return
        with_probs = [i for i in labelled if prob_rows[i] is not None]
        positive = classes[1] if len(classes) == 2 else 1
        proba = [prob_rows[i][1] for i in labelled] if len(classes) == 2 and len(with_probs) == len(labelled) else None  # type: ignore[index]
        perf = performance("classification", [labels[i] for i in labelled], [preds[i] for i in labelled], proba=proba,
                           positive=positive)
        report["performance"] = perf
        metrics.update({k: v for k, v in perf.items() if isinstance(v, (int, float)) and k != "rows"})
        if with_probs:
            same = estimate_from_probabilities(classes, [prob_rows[i] for i in with_probs])  # type: ignore[misc]
            report["estimate_vs_realised"] = {
                "rows": len(with_probs),
                "metrics": {k: {"estimated": same[k], "realised": perf.get(k)}
                            for k in ("accuracy", "precision", "recall", "f1") if k in same},
            }

    def _check_rules(self, m: Monitor, metrics: dict[str, float | None], now: int) -> list[Alert]:
        alerts = []
        for rule in m.spec.get("rules", []):
            value = metrics.get(rule["metric"])
            if value is None or not OPS[rule["op"]](value, rule["threshold"]):
                continue
            need = rule["consecutive"] - 1
            if need:
                history = self.store.monitoring.results(m.name, need, 0, with_report=False)
                held = [h.metrics.get(rule["metric"]) for h in history]
                if len(held) < need or any(v is None or not OPS[rule["op"]](v, rule["threshold"]) for v in held):
                    continue
            last = self.store.monitoring.last_alert(m.name, rule["name"])
            if last is not None and last.status == "open" and now - last.created_ms < rule["cooldown_s"] * 1000:
                continue  # deduplicated: the same alert is still open and recent
            message = (f"{rule['metric']} = {value:.4g} {rule['op']} {rule['threshold']:g}"
                       + (f" in {rule['consecutive']} consecutive runs" if rule["consecutive"] > 1 else ""))
            alerts.append(Alert(0, m.name, 0, rule["name"], rule["metric"], value, rule["threshold"], message,
                                "open", now))
        return alerts

    def _fire(self, trigger: str, alert: Alert) -> None:
        """Start the rule's pipeline (retraining) through its trigger, once per alert (the alert id dedupes)."""
        try:
            self.service.pipelines.fire_trigger(trigger, {"alert": alert.to_dict()}, dedupe_key=f"monitor-alert-{alert.id}")
        except Exception:  # noqa: BLE001 - the alert stands; the trigger may be paused or gone
            log.warning("monitor %s: could not fire trigger %s for alert %s", alert.monitor_name, trigger, alert.id,
                        exc_info=True)

    def _log_run(self, m: Monitor, result: MonitorResult) -> None:
        """Log the scores to the monitor's run (experiment ``monitors``, run ``monitor NAME``): step = result id.

        So a monitor's scores chart, search and compare like any run's metrics.
        Best effort: the result itself is already stored.
        """
        try:
            # The monitor's workspace: its key's (the scheduler's runs), else the request's (a name shown bare).
            with within(split_model_key(m.name)[0] if ":" in m.name else scope()):
                self._log_scores(m, result)
        except Exception:  # noqa: BLE001 - the result is stored; its run is a convenience
            log.warning("could not log monitor %s's scores to its run", m.name, exc_info=True)

    def _log_scores(self, m: Monitor, result: MonitorResult) -> None:
        from ..entities import Metric

        run_id = m.spec.get("run_id")
        if run_id is None:
            exp = self.service.experiments.get_by_name(RUNS_EXPERIMENT)
            exp_id = exp.experiment_id if exp is not None else self.service.experiments.create(RUNS_EXPERIMENT)
            name, model = split_model_key(m.name)[1], split_model_key(m.model_name)[1]  # bare, in their workspace
            run = self.service.runs.create(exp_id, start_time=result.started_ms, run_name=f"monitor {name}",
                                           tags={"modelyard.monitor": name, "modelyard.model": model})
            run_id = run.info.run_id
            self.store.monitoring.set_run_id(m.name, run_id)
        metrics = [Metric(k, v, result.started_ms, result.id) for k, v in result.metrics.items() if v is not None]
        self.service.runs.log_batch(run_id, metrics[:1000])

    def run_due(self, now: int | None = None) -> list[MonitorResult]:
        """Run every scheduled monitor that is due, each claimed by one process."""
        now = self.clock() if now is None else now
        out = []
        for name in self.store.monitoring.claim_due(now, self.lease_ms):
            workspace, bare = split_model_key(name)
            try:
                # In the monitor's workspace, as a request of that workspace would run it: its model's and its
                # prompt's names resolve there (the registry takes bare names only).
                with within(workspace):
                    result = self.run_monitor(bare, now)
                result.monitor_name = name  # the scheduler's view: the monitor's key
                out.append(result)
            except Exception:  # noqa: BLE001 - one failing monitor must not stop the others
                log.exception("monitor %s failed", name)
        return out

    def gauges(self, max_monitors: int = 200, max_features: int = 50) -> list[tuple[str, dict[str, str], float]]:
        """(name, labels, value) of each monitor's latest scores, for Prometheus: bounded cardinality."""
        out: list[tuple[str, dict[str, str], float]] = []
        for m in self.store.monitoring.list_monitors(None, max_monitors, 0, every_workspace=True):
            latest = self.store.monitoring.results(m.name, 1, 0, with_report=False)
            if not latest:
                continue
            r = latest[0]
            base = {"monitor": m.name, "model": m.model_name, "version": r.model_version or ""}
            features = 0
            for key, value in sorted(r.metrics.items()):
                if value is None:
                    continue
                if key.startswith("drift."):
                    features += 1
                    if features <= max_features:
                        out.append(("modelyard_monitor_feature_drift", {**base, "feature": key[6:]}, value))
                else:
                    out.append(("modelyard_monitor_metric", {**base, "metric": key}, value))
            out.append(("modelyard_monitor_last_run_timestamp_seconds", base, r.started_ms / 1000))
        return out

    # ---- results and alerts ---------------------------------------------------

    def results(self, name: str, max_results: int = 100, offset: int = 0, with_report: bool = False) -> list[MonitorResult]:
        _check_page(max_results, offset)
        self.store.monitoring.get_monitor(name)
        return self.store.monitoring.results(name, max_results, offset, with_report)

    def get_result(self, result_id: str) -> MonitorResult:
        return self.store.monitoring.get_result(_id(result_id, "result_id"))

    def alerts(self, monitor_name: str | None = None, status: str | None = None, max_results: int = 100,
               offset: int = 0) -> list[Alert]:
        _check_page(max_results, offset)
        if status not in (None, "open", "acknowledged"):
            raise InvalidParameterValue(f"status: {status!r}; use open or acknowledged.")
        return self.store.monitoring.alerts(monitor_name, status, max_results, offset, visibility())

    def model_of(self, kind: str, key: str) -> str | None:
        """The registered model a ``monitor`` (by name), ``monitor_result`` or ``monitor_alert`` (by id) watches."""
        if kind != "monitor":
            if not str(key).isdigit() or len(str(key)) > 18:
                return None
            return self.store.monitoring.model_of(kind, int(key))
        return self.store.monitoring.model_of(kind, key)

    def acknowledge_alert(self, alert_id: str, who: str | None = None) -> Alert:
        return self.store.monitoring.acknowledge(_id(alert_id, "alert_id"), who, self.clock())


def _alert_event(alert: Alert) -> dict[str, Any]:
    """The ``monitor_alert.fired`` webhook payload of a stored alert (its REST shape), with its monitor's
    workspace beside the monitor's name there (the store hands it the monitor's key)."""
    workspace, name = split_model_key(alert.monitor_name)
    return {**alert.to_dict(), "monitor_name": name, "workspace": workspace}


def _check_rule(rule: Any, i: int) -> dict[str, Any]:
    where = f"rules[{i}]"
    if not isinstance(rule, dict):
        raise InvalidParameterValue(f"{where}: expected an object with metric, op and threshold.")
    unknown = set(rule) - {"name", "metric", "op", "threshold", "consecutive", "cooldown_s", "trigger"}
    if unknown:
        raise InvalidParameterValue(f"{where}: unknown field(s) {sorted(unknown)}.")
    metric = rule.get("metric")
    if not isinstance(metric, str) or not metric:
        raise InvalidParameterValue(f"{where}.metric: give a metric name (f1, prediction_rate, share_drifted, ...).")
    op = rule.get("op", "<")
    if op not in OPS:
        raise InvalidParameterValue(f"{where}.op: {op!r}; use one of {' '.join(OPS)}.")
    threshold = rule.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise InvalidParameterValue(f"{where}.threshold: {threshold!r}; give a number.")
    consecutive = rule.get("consecutive", 1)
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or not 1 <= consecutive <= 100:
        raise InvalidParameterValue(f"{where}.consecutive: {consecutive!r}; give a whole number from 1 to 100.")
    cooldown = rule.get("cooldown_s", 3600)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise InvalidParameterValue(f"{where}.cooldown_s: {cooldown!r}; give whole seconds >= 0.")
    name = rule.get("name") or f"{metric} {op} {threshold:g}"
    if not isinstance(name, str) or len(name) > 256:
        raise InvalidParameterValue(f"{where}.name: give a string of at most 256 characters.")
    trigger = rule.get("trigger")
    if trigger is not None and (not isinstance(trigger, str) or not trigger):
        raise InvalidParameterValue(f"{where}.trigger: give the name of a pipeline trigger (kind api) to fire.")
    return {"name": name, "metric": metric, "op": op, "threshold": float(threshold), "consecutive": consecutive,
            "cooldown_s": cooldown, "trigger": trigger}


def _check_page(max_results: int, offset: int) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
        raise InvalidParameterValue(f"max_results: {max_results!r}; give 1 to {MAX_RESULTS}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 2**62:
        raise InvalidParameterValue(f"offset: {offset!r}; give a whole number >= 0.")


def _id(value: Any, field: str) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        raise InvalidParameterValue(f"{field}: {value!r} is not an id; give the number shown by the list.")
    return int(text)


def _clean(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in metrics.items()}


def _frame(inputs: list[Any]) -> dict[str, list[Any]]:
    """Columns of the logged inputs: ``{"columns", "data"}`` tables, records, or ``{column: values}``.

    Consecutive requests with the same columns are gathered into one block and
    transposed at once; a column missing from a block is None there.
    """
    blocks: list[tuple[tuple[str, ...], list[Any]]] = []

    def add(names: tuple[str, ...], rows: list[Any]) -> None:
        if blocks and blocks[-1][0] == names:
            blocks[-1][1].extend(rows)
        else:
            blocks.append((names, list(rows)))

    last_columns: Any = None
    last_names: tuple[str, ...] = ()
    for item in inputs:
        if isinstance(item, dict) and "columns" in item and "data" in item and isinstance(item["data"], list):
            if item["columns"] != last_columns:  # the usual case: every request has the same columns
                last_columns, last_names = item["columns"], tuple(str(c) for c in item["columns"])
            add(last_names, item["data"])
        elif isinstance(item, dict) and item and all(isinstance(v, list) for v in item.values()):
            add(tuple(str(k) for k in item), [list(r) for r in zip(*item.values(), strict=False)])
        elif isinstance(item, list) and item and all(isinstance(r, dict) for r in item):
            for row in item:
                add(tuple(str(k) for k in row), [list(row.values())])
        elif isinstance(item, dict) and item:
            add(tuple(str(k) for k in item), [list(item.values())])
    names = list(dict.fromkeys(n for block_names, _ in blocks for n in block_names))
    total = sum(len(rows) for _, rows in blocks)
    cols: dict[str, list[Any]] = {n: [None] * total for n in names}
    start = 0
    for block_names, rows in blocks:
        width = len(block_names)
        if all(type(r) is list and len(r) == width for r in rows):  # full rows: transposed by zip, in C
            for name, values in zip(block_names, zip(*rows, strict=True) if rows else [()] * width, strict=True):
                cols[name][start : start + len(rows)] = values
        else:
            for j, name in enumerate(block_names):
                cols[name][start : start + len(rows)] = [r[j] if isinstance(r, list) and j < len(r) else None
                                                         for r in rows]
        start += len(rows)
    return cols

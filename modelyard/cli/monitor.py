"""``modelyard monitor ...``: drift reports on files, reference profiles, monitors, their results and alerts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidParameterValue
from .output import (
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_time,
    json_option,
    reading_client,
    tracking_uri_option,
)

_RULE = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s*(<=|>=|<|>)\s*(-?[0-9.eE+-]+)\s*$")


@click.group("monitor", cls=SdkGroup)
def command() -> None:
    """Monitoring: drift and data quality against a reference, monitors on the request log, alerts."""


def _load(path: str) -> Any:
    """A profile from a .json file, else a DataFrame from a CSV or Parquet file."""
    from ..monitoring import read_table

    if path.lower().endswith(".json"):
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidParameterValue(f"Cannot read the profile {path!r}: {exc}") from None
    return read_table(path)


def _methods(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        column, sep, method = pair.partition("=")
        if not sep or not column or not method:
            raise click.BadParameter(f"{pair!r}: write COLUMN=METHOD, e.g. age=ks.", param_hint="--method")
        out[column] = method
    return out


@command.command("drift")
@click.option("--reference", required=True, metavar="PATH",
              help="Reference data (.csv or .parquet: exact statistics) or a stored profile (.json: from its sketch).")
@click.option("--current", required=True, metavar="PATH", help="Current data (.csv or .parquet).")
@click.option("--report", "report_path", default=None, metavar="PATH", help="Write the self-contained HTML report here.")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Write the JSON result here ('-': standard output).")
@click.option("--alpha", default=0.05, show_default=True, type=float, help="False-alarm rate of each test and of the dataset verdict.")
@click.option("--method", "methods", multiple=True, metavar="COLUMN=METHOD",
              help="The method for a column: ks, chisquare, wasserstein, psi, jensenshannon. Repeatable.")
@click.option("--quality/--no-quality", default=True, show_default=True, help="Add data-quality checks to the report.")
def drift(reference: str, current: str, report_path: str | None, json_path: str | None, alpha: float,
          methods: tuple[str, ...], quality: bool) -> None:
    """Compare current data with reference data, column by column; exit 0 either way."""
    from ..monitoring import check_quality, drift_report, profile
    from ..monitoring.report import render_html

    ref, cur = _load(reference), _load(current)
    result = drift_report(ref, cur, alpha=alpha, methods=_methods(methods))
    checks = None
    if quality:
        prof = ref if isinstance(ref, dict) else profile(ref, min_rows=1)
        checks = check_quality(prof, cur)
    if report_path:
        Path(report_path).write_text(render_html(result, title=f"Drift: {Path(current).name} against {Path(reference).name}",
                                                 quality=checks))
    if json_path:
        body = {**result, **({"quality": checks} if checks is not None else {})}
        if json_path == "-":
            echo_json(body)
        else:
            Path(json_path).write_text(json.dumps(body, indent=1))
    if json_path != "-":
        rows = ([c["column"], c["kind"], c["method"], c["statistic"], c["p_value"], c["threshold"],
                 "DRIFT" if c["drift"] else "-"] for c in result["columns"])
        echo_table(rows, ["COLUMN", "KIND", "METHOD", "STATISTIC", "P-VALUE", "THRESHOLD", "DRIFT"])
        verdict = "Dataset drift" if result["dataset_drift"] else "No dataset drift"
        click.echo(f"{verdict}: {result['drifted_columns']} of {len(result['columns'])} columns drifted"
                   f" ({result['dataset_rule']}).")
        if checks is not None and checks["failed"]:
            click.echo(f"Data quality failed: {', '.join(checks['failed'])}")


@command.command("profile")
@click.argument("data", metavar="PATH")
@click.option("--out", required=True, metavar="PATH", help="Write the profile (JSON) here.")
def profile_(data: str, out: str) -> None:
    """Build a reference profile of a CSV or Parquet file."""
    from ..monitoring import profile, read_table

    prof = profile(read_table(data))
    Path(out).write_text(json.dumps(prof))
    click.echo(f"Profiled {prof['rows']} rows, {len(prof['columns'])} columns -> {out}")


@command.group("reference", cls=SdkGroup)
def reference() -> None:
    """The reference profile stored with a model version."""


@reference.command("set")
@click.argument("model")
@click.argument("version")
@click.argument("data", metavar="PATH")
@tracking_uri_option
def reference_set(model: str, version: str, data: str, tracking_uri: str | None) -> None:
    """Profile PATH (.csv/.parquet, or a profile .json) and store it as MODEL VERSION's reference."""
    from ..monitoring import profile

    loaded = _load(data)
    prof = loaded if isinstance(loaded, dict) else profile(loaded)
    done = client(tracking_uri).set_reference_profile(model, version, prof)
    click.echo(f"Reference of {done['model_name']} version {done['model_version']}: {done['rows']} rows,"
               f" {done['columns']} columns.")


@reference.command("get")
@click.argument("model")
@click.argument("version")
@click.option("--out", default=None, metavar="PATH", help="Write the profile here instead of a summary.")
@tracking_uri_option
def reference_get(model: str, version: str, out: str | None, tracking_uri: str | None) -> None:
    """Show (or save) MODEL VERSION's reference profile."""
    prof = reading_client(tracking_uri).get_reference_profile(model, version)
    if out:
        Path(out).write_text(json.dumps(prof))
        click.echo(f"Wrote {out}")
        return
    rows = ([c["name"], c["kind"], c["count"], c["missing"]] for c in prof["columns"])
    echo_table(rows, ["COLUMN", "KIND", "ROWS", "MISSING"])


def _rules(rules: tuple[str, ...], consecutive: int, cooldown: int) -> list[dict[str, Any]]:
    out = []
    for text in rules:
        found = _RULE.match(text)
        if not found:
            raise click.BadParameter(f"{text!r}: write METRIC<THRESHOLD, e.g. 'f1<0.8' or 'share_drifted>0.3'.",
                                     param_hint="--rule")
        metric, op, threshold = found.groups()
        out.append({"metric": metric, "op": op, "threshold": float(threshold), "consecutive": consecutive,
                    "cooldown_s": cooldown})
    return out


@command.command("create")
@click.argument("name")
@click.option("--model", required=True, help="Registered model to watch.")
@click.option("--alias", default=None, help="Watch the version this alias points at when the monitor runs.")
@click.option("--version", default=None, help="Watch this version.")
@click.option("--task", type=click.Choice(["classification", "multilabel", "regression"]), default=None,
              help="How to score predictions once labels arrive.")
@click.option("--interval", "interval_s", type=int, default=None, help="Run every this many seconds on the server.")
@click.option("--window-rows", type=int, default=None, help="Window: the last N served requests (default 10000).")
@click.option("--window-minutes", type=float, default=None, help="Window: the requests of the last N minutes.")
@click.option("--rule", "rules", multiple=True, metavar="METRIC<THRESHOLD",
              help="Alert when a metric crosses a threshold, e.g. 'f1<0.8', 'prediction_rate<0.5'. Repeatable.")
@click.option("--consecutive", default=1, show_default=True, help="Runs in a row a rule must hold before it alerts.")
@click.option("--cooldown", default=3600, show_default=True, help="Seconds before an open alert may fire again.")
@click.option("--trigger", default=None, metavar="TRIGGER",
              help="A pipeline trigger (kind api) every rule fires when it alerts, e.g. a retraining pipeline's.")
@click.option("--source", type=click.Choice(["requests", "traces"]), default="requests", show_default=True,
              help="What the window holds: the serving request log, or traces (cost and latency: the traces of "
                   "the prompt or model version, or of --experiment).")
@click.option("--experiment", "experiments", multiple=True, metavar="ID",
              help="With --source traces: watch every trace of this experiment instead. Repeatable.")
@tracking_uri_option
@json_option
def create(name: str, model: str, alias: str | None, version: str | None, task: str | None, interval_s: int | None,
           window_rows: int | None, window_minutes: float | None, rules: tuple[str, ...], consecutive: int,
           cooldown: int, trigger: str | None, source: str, experiments: tuple[str, ...], tracking_uri: str | None,
           as_json: bool) -> None:
    """Create monitor NAME over MODEL's serving request log, or over traces (--source traces).

    A traces monitor computes traces, error_rate, latency_mean_ms, latency_p95_ms, cost_total,
    cost_per_trace_mean, cost_per_trace_p95 and tokens_per_trace_mean, e.g.
    --source traces --rule 'latency_p95_ms>2000' --rule 'cost_per_trace_mean>0.01'.
    """
    if experiments and source != "traces":
        raise click.BadParameter("only a traces monitor watches experiments: add --source traces.",
                                 param_hint="--experiment")
    parsed = _rules(rules, consecutive, cooldown)
    for rule in parsed:
        if trigger:
            rule["trigger"] = trigger
    spec_source = None if source == "requests" else {
        "kind": "traces", **({"experiment_ids": list(experiments)} if experiments else {})}
    m = client(tracking_uri).create_monitor(
        name, model, version=version, alias=alias, task=task, interval_s=interval_s, window_rows=window_rows,
        window_minutes=window_minutes, rules=parsed, source=spec_source)
    _describe(m, "Created", as_json)


def _describe(m: dict[str, Any], done: str, as_json: bool) -> None:
    if as_json:
        echo_json({"monitor": m})
        return
    target = f"@{m['alias']}" if m["alias"] else f"version {m['model_version']}"
    every = f"every {m['interval_s']} s" if m["interval_s"] else "on demand"
    source = m.get("source") or {}
    over = ""
    if source.get("kind") == "traces":
        ids = source.get("experiment_ids")
        over = f" over the traces of experiment(s) {', '.join(ids)}" if ids else " over its traces"
    click.echo(f"{done} monitor {m['name']} of {m['model_name']} {target}{over}, {every}, {len(m['rules'])} rule(s).")


@command.command("update")
@click.argument("name")
@click.option("--alias", default=None, help="Watch the version this alias points at (instead of a fixed version).")
@click.option("--version", default=None, help="Watch this version (instead of an alias).")
@click.option("--task", type=click.Choice(["classification", "multilabel", "regression"]), default=None,
              help="How to score predictions once labels arrive.")
@click.option("--interval", "interval_s", type=click.IntRange(min=0), default=None,
              help="Run every this many seconds on the server; 0: on demand only.")
@click.option("--window-rows", type=int, default=None, help="Window: the last N served requests.")
@click.option("--window-minutes", type=float, default=None, help="Window: the requests of the last N minutes.")
@click.option("--rule", "rules", multiple=True, metavar="METRIC<THRESHOLD",
              help="Replace the rules with these, e.g. 'f1<0.8'. Repeatable; without it the rules stay.")
@click.option("--consecutive", default=1, show_default=True, help="Runs in a row a new rule must hold before it alerts.")
@click.option("--cooldown", default=3600, show_default=True, help="Seconds before an open alert of a new rule may fire again.")
@click.option("--trigger", default=None, metavar="TRIGGER", help="A pipeline trigger every new rule fires when it alerts.")
@tracking_uri_option
@json_option
def update(name: str, alias: str | None, version: str | None, task: str | None, interval_s: int | None,
           window_rows: int | None, window_minutes: float | None, rules: tuple[str, ...], consecutive: int,
           cooldown: int, trigger: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Change monitor NAME: only what is given changes (its results and alerts stay)."""
    if trigger and not rules:
        raise click.BadParameter("give the rules it applies to with --rule.", param_hint="--trigger")
    parsed = _rules(rules, consecutive, cooldown) if rules else None
    for rule in parsed or []:
        if trigger:
            rule["trigger"] = trigger
    m = client(tracking_uri).update_monitor(
        name, version=version, alias=alias, task=task, interval_s=interval_s, window_rows=window_rows,
        window_minutes=window_minutes, rules=parsed)
    _describe(m, "Updated", as_json)


@command.command("list")
@click.option("--model", default=None, help="Only monitors of this model.")
@tracking_uri_option
@json_option
def list_(model: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List monitors."""
    found = reading_client(tracking_uri).list_monitors(model, 1000)
    if as_json:
        echo_json({"monitors": found})
        return
    rows = ([m["name"], m["model_name"], f"@{m['alias']}" if m["alias"] else m["model_version"],
             m["interval_s"] or "-", len(m["rules"]), format_time(m["next_run_ms"])] for m in found)
    echo_table(rows, ["NAME", "MODEL", "VERSION", "EVERY (S)", "RULES", "NEXT RUN"], empty="No monitors.")


@command.command("delete")
@click.argument("name")
@tracking_uri_option
def delete(name: str, tracking_uri: str | None) -> None:
    """Delete monitor NAME (its results and alerts stay)."""
    client(tracking_uri).delete_monitor(name)
    click.echo(f"Deleted monitor {name}.")


@command.command("run")
@click.argument("name")
@tracking_uri_option
@json_option
def run(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Run monitor NAME now and print its scores."""
    c = client(tracking_uri)
    result = c.run_monitor(name)
    if as_json:
        echo_json({"result": result})
        return
    metrics = result["metrics"]
    shown = {k: v for k, v in metrics.items() if not k.startswith("drift.")}
    echo_table(sorted(shown.items()), ["METRIC", "VALUE"])
    fired = [a for a in c.list_alerts(name, "open") if a["result_id"] == result["id"]]
    for a in fired:
        click.echo(f"ALERT {a['rule']}: {a['message']}")


@command.command("results")
@click.argument("name")
@click.option("--max-results", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many, newest first.")
@tracking_uri_option
@json_option
def results(name: str, max_results: int, tracking_uri: str | None, as_json: bool) -> None:
    """Show monitor NAME's results, newest first."""
    found = reading_client(tracking_uri).monitor_results(name, max_results)
    if as_json:
        echo_json({"results": found})
        return
    keys: tuple[str, ...] = ("share_drifted", "dataset_drift", "prediction_rate", "accuracy", "f1", "jaccard", "mae")
    if found and all("traces" in r["metrics"] for r in found):  # a traces monitor's metrics
        keys = ("error_rate", "latency_p95_ms", "cost_total", "cost_per_trace_mean", "tokens_per_trace_mean")
    rows = ([r["id"], format_time(r["started_ms"]), r["model_version"], r["rows"], r["labelled"],
             *(r["metrics"].get(k) for k in keys)] for r in found)
    echo_table(rows, ["ID", "RUN", "VERSION", "ROWS", "LABELLED", *[k.upper() for k in keys]], empty="No results.")


@command.command("alerts")
@click.argument("name", required=False)
@click.option("--status", type=click.Choice(["open", "acknowledged"]), default=None, help="Only alerts in this state.")
@tracking_uri_option
@json_option
def alerts(name: str | None, status: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Alert history (of monitor NAME, or all), newest first."""
    found = reading_client(tracking_uri).list_alerts(name, status, 1000)
    if as_json:
        echo_json({"alerts": found})
        return
    rows = ([a["id"], a["monitor_name"], a["rule"], a["message"], a["status"], format_time(a["created_ms"])]
            for a in found)
    echo_table(rows, ["ID", "MONITOR", "RULE", "MESSAGE", "STATUS", "RAISED"], empty="No alerts.")


@command.command("ack")
@click.argument("alert_id")
@click.option("--by", "who", default=None, help="Who acknowledges it.")
@tracking_uri_option
def ack(alert_id: str, who: str | None, tracking_uri: str | None) -> None:
    """Acknowledge alert ALERT_ID."""
    a = client(tracking_uri).acknowledge_alert(alert_id, who)
    click.echo(f"Alert {a['id']} ({a['rule']}) is {a['status']}.")

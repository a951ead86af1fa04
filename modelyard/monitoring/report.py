"""The drift report as one self-contained HTML file: no script, no external file, inline SVG plots.

A summary (dataset verdict and its rule), the drift table (one row per column,
drifted first), data-quality verdicts when given, performance over time when
given, and per column a plot of the reference's distribution against the
current one (shares per bin or per category). About 3 KB per column, so 100
columns stay well under 1 MB and open at once.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.bad{color:#b00020;font-weight:600}.ok{color:#1b7a2a}.warn{color:#a86400}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px}.card h3{font-size:13px;margin:0 0 4px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
.note{color:#666;font-size:12px}
"""
_REF, _CUR = "#4c78a8", "#f58518"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "∞"
        return f"{value:.4g}"
    return _e(value)


def _bars(hist: dict[str, Any], width: int = 320, height: int = 110) -> str:
    ref, cur = hist.get("reference") or [], hist.get("current") or []
    k = len(ref)
    if not k:
        return '<p class="note">no values</p>'
    top = max(max(ref), max(cur or [0]), 1e-12)
    slot = width / k
    bar = max(slot / 2 - 1, 1)
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=False)):
        x = i * slot
        hr, hc = r / top * (height - 12), c / top * (height - 12)
        parts.append(f'<rect x="{x:.1f}" y="{height - hr:.1f}" width="{bar:.1f}" height="{hr:.1f}" fill="{_REF}"/>'
                     f'<rect x="{x + bar:.1f}" y="{height - hc:.1f}" width="{bar:.1f}" height="{hc:.1f}" fill="{_CUR}"/>')
    if "labels" in hist:
        caption = ", ".join(_e(label) for label in hist["labels"][:8]) + (" …" if k > 8 else "")
    else:
        edges = hist.get("edges") or [0, 0]
        caption = f"{_num(edges[0])} … {_num(edges[-1])}"
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">{"".join(parts)}</svg>'
            f'<div class="note">{caption}</div>')


def _drift_table(report: dict[str, Any]) -> str:
    rows = []
    for c in sorted(report["columns"], key=lambda c: (not c["drift"], c["column"])):
        verdict = '<span class="bad">drift</span>' if c["drift"] else '<span class="ok">no drift</span>'
        sketch = " (sketch)" if c.get("from_sketch") else ""
        rows.append(f"<tr><td>{_e(c['column'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['method'])}{sketch}</td>"
                    f"<td>{_num(c['statistic'])}</td><td>{_num(c['p_value'])}</td><td>{_num(c['threshold'])}</td>"
                    f"<td>{verdict}</td></tr>")
    return ("<table><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th><th>p-value</th>"
            f"<th>threshold</th><th>verdict</th></tr>{''.join(rows)}</table>")


def _quality_table(quality: dict[str, Any]) -> str:
    rows = []
    for c in quality["checks"]:
        cls = {"pass": "ok", "warn": "warn"}.get(c["verdict"], "bad")
        rows.append(f"<tr><td>{_e(c['check'])}</td><td>{_e(c['column'] or '')}</td>"
                    f"<td class=\"{cls}\">{_e(c['verdict'])}</td><td>{_e(c['message'])}</td></tr>")
    return f"<table><tr><th>check</th><th>column</th><th>verdict</th><th>detail</th></tr>{''.join(rows)}</table>"


def _performance_table(history: Sequence[dict[str, Any]]) -> str:
    keys = sorted({k for h in history for k, v in (h.get("metrics") or {}).items()
                   if isinstance(v, (int, float)) and not k.startswith("drift.")})[:12]
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{_e(h.get('started_ms'))}</td>" + "".join(f"<td>{_num(h['metrics'].get(k))}</td>" for k in keys)
        + "</tr>" for h in history)
    return f"<table><tr><th>run (ms)</th>{head}</tr>{rows}</table>"


def render_html(report: dict[str, Any], *, title: str = "Drift report", quality: dict[str, Any] | None = None,
                history: Sequence[dict[str, Any]] | None = None) -> str:
    """One HTML page for a :func:`~modelyard.monitoring.drift_report` result (plus quality and history)."""
    verdict = ('<span class="bad">drift detected</span>' if report["dataset_drift"]
               else '<span class="ok">no dataset drift</span>')
    sketch = any(c.get("from_sketch") for c in report["columns"])
    parts = [
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{verdict}: {report['drifted_columns']} of {len(report['columns'])} columns drifted "
        f"({report['share_drifted']:.0%}). Reference {report['reference_rows']} rows, current {report['current_rows']} rows."
        f"</p><p class=\"note\">Dataset verdict: {_e(report['dataset_rule'])}."
        + (" Statistics marked (sketch) come from the stored reference profile, not raw rows:"
           " KS within 1/2000 of the exact statistic." if sketch else "") + "</p>",
    ]
    if report.get("missing_columns") or report.get("new_columns"):
        parts.append(f"<p class=\"warn\">Missing columns: {_e(report.get('missing_columns'))};"
                     f" new columns: {_e(report.get('new_columns'))}</p>")
    parts += ["<h2>Drift per column</h2>", _drift_table(report)]
    if quality is not None:
        parts += ["<h2>Data quality</h2>", _quality_table(quality)]
    if history:
        parts += ["<h2>Performance over time</h2>", _performance_table(history)]
    parts.append(f'<h2>Distributions</h2><p class="legend"><span style="background:{_REF}"></span>reference'
                 f'<span style="background:{_CUR}"></span>current</p><div class="grid">')
    for c in report["columns"]:
        flag = ' <span class="bad">drift</span>' if c["drift"] else ""
        parts.append(f'<div class="card"><h3>{_e(c["column"])}{flag}</h3>{_bars(c.get("histogram") or {})}</div>')
    parts.append("</div></body></html>")
    return "".join(parts)

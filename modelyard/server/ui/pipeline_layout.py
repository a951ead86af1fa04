"""Pipeline run pictures for the UI: the executed step graph laid out in layers, and the timeline of steps.

Pure functions of a run's steps and lineage edges (no request, no store), so
they are easy to test; the pages in ``pipelines.py`` render what they return.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, cast

_UPSTREAM = re.compile(r"^upstream step '(.+)' failed$")

# Graph and timeline geometry (SVG user units).
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 42, 56, 14, 12
LABEL_W, PLOT_W, ROW_H, AXIS_H = 190, 720, 22, 24
NICE_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
           600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000]


def now_ms() -> int:
    return int(time.time() * 1000)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def span(ms: float) -> str:
    """A short duration: ``120 ms``, ``1.5 s``, ``2m 30s``, ``1h 5m``."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.3g} s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60)}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60)}m"


def elapsed(start: int | None, end: int | None) -> str:
    """A run's duration (so far, while it runs)."""
    return "—" if start is None else span((end if end is not None else now_ms()) - start)


def step_ms(step: dict[str, Any], now: int) -> int | None:
    if step["start_time"] is None:
        return None
    return cast("int | None", (step["end_time"] if step["end_time"] is not None else now) - step["start_time"])


# ---- the executed graph ----------------------------------------------------------------


@dataclass
class Node:
    key: str
    run_id: str
    status: str
    x: float
    y: float
    label: str
    detail: str
    title: str


@dataclass
class Edge:
    path: str
    inferred: bool
    title: str


@dataclass
class Graph:
    width: float
    height: float
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    node_w: float = NODE_W
    node_h: float = NODE_H


def _links(steps: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[list[str], bool]]:
    """(from, to) → (input names, inferred): recorded edges, plus a skipped step's failed upstream (inputs unrecorded)."""
    links: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for e in edges:
        links.setdefault((e["from_task"], e["to_task"]), ([], False))[0].append(str(e["input"]))
    keys = {s["task_key"] for s in steps}
    has_inputs = {to for _, to in links}
    for s in steps:
        m = _UPSTREAM.match(s.get("error") or "")
        if s["status"] == "SKIPPED" and m and m.group(1) in keys and s["task_key"] not in has_inputs:
            links[(m.group(1), s["task_key"])] = ([], True)
    return links


def _layers(steps: list[dict[str, Any]], preds: dict[str, list[str]]) -> dict[str, int]:
    """Longest path from a source; steps are recorded in submission order, so one pass in position order suffices."""
    layer: dict[str, int] = {}
    for s in sorted(steps, key=lambda s: s["position"]):
        layer[s["task_key"]] = 1 + max((layer.get(p, 0) for p in preds.get(s["task_key"], [])), default=-1)
    return layer


def graph(steps: list[dict[str, Any]], edges: list[dict[str, Any]], now: int) -> Graph:
    links = _links(steps, edges)
    preds: dict[str, list[str]] = {}
    for src, dst in links:
        preds.setdefault(dst, []).append(src)
    layer = _layers(steps, preds)
    columns: dict[int, list[dict[str, Any]]] = {}
    for s in sorted(steps, key=lambda s: s["position"]):
        columns.setdefault(layer[s["task_key"]], []).append(s)
    rank: dict[str, int] = {}

    def barycenter(s: dict[str, Any]) -> tuple[float, int]:
        rows = [rank[p] for p in preds.get(s["task_key"], []) if p in rank]
        return (sum(rows) / len(rows) if rows else 0.0, s["position"])

    for col in sorted(columns):  # order each column by its predecessors' rows: fewer crossings
        columns[col].sort(key=barycenter)
        for i, s in enumerate(columns[col]):
            rank[s["task_key"]] = i
    tallest = max((len(c) for c in columns.values()), default=0)
    g = Graph(width=PAD * 2 + len(columns) * (NODE_W + GAP_X) - GAP_X if columns else 0,
              height=PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y if columns else 0)
    where: dict[str, tuple[float, float]] = {}
    for col, nodes in columns.items():
        top = PAD + (tallest - len(nodes)) * (NODE_H + GAP_Y) / 2
        for i, s in enumerate(nodes):
            x, y = PAD + col * (NODE_W + GAP_X), top + i * (NODE_H + GAP_Y)
            where[s["task_key"]] = (x, y)
            took = step_ms(s, now)
            detail = "cache hit" if s["status"] == "CACHED" else s["status"].lower()
            if took is not None and s["status"] != "CACHED":
                detail += f" · {span(took)}"
            if s["attempts"] > 1:
                detail += f" · {s['attempts']} tries"
            title = f"{s['task_key']}: {s['status']}" + (f" — {s['error']}" if s.get("error") else "")
            g.nodes.append(Node(s["task_key"], s["run_id"], s["status"], x, y, _clip(s["task_key"], 22), detail, title))
    for (src, dst), (inputs, inferred) in links.items():
        if src not in where or dst not in where:
            continue
        (x1, y1), (x2, y2) = where[src], where[dst]
        x1, y1, x2, y2 = x1 + NODE_W, y1 + NODE_H / 2, x2 - 4, y2 + NODE_H / 2
        mid = (x1 + x2) / 2
        title = f"{src} → {dst}" + (f" ({', '.join(inputs)})" if inputs else " (not run: upstream failed)")
        g.edges.append(Edge(f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}", inferred, title))
    return g


# ---- the timeline (Gantt) ----------------------------------------------------------------


@dataclass
class Bar:
    key: str
    run_id: str
    status: str
    y: float
    x: float
    w: float
    label: str
    title: str
    ran: bool


@dataclass
class Timeline:
    width: float
    height: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    total: str = ""
    label_w: float = LABEL_W
    axis_h: float = AXIS_H


def timeline(run: dict[str, Any], steps: list[dict[str, Any]], now: int) -> Timeline:
    ran = [s for s in steps if s["start_time"] is not None]
    starts = [s["start_time"] for s in ran] + ([run["start_time"]] if run["start_time"] else [])
    t0 = min(starts, default=now)
    ends = [s["end_time"] if s["end_time"] is not None else now for s in ran]
    t1 = max([*ends, run["end_time"] or (now if run["status"] == "RUNNING" else t0), t0 + 1])
    scale = PLOT_W / (t1 - t0)
    order = sorted(steps, key=lambda s: (s["start_time"] is None, s["start_time"] or 0, s["position"]))
    tl = Timeline(width=LABEL_W + PLOT_W + 3 * PAD, height=AXIS_H + len(order) * ROW_H + PAD, total=span(t1 - t0))
    for i, s in enumerate(order):
        y = AXIS_H + i * ROW_H
        took = step_ms(s, now)
        if took is None:
            tl.bars.append(Bar(s["task_key"], s["run_id"], s["status"], y, LABEL_W, 0, _clip(s["task_key"], 26),
                               f"{s['task_key']}: {s['status'].lower()}, not run", False))
            continue
        x = LABEL_W + (s["start_time"] - t0) * scale
        title = f"{s['task_key']}: {s['status'].lower()}, +{span(s['start_time'] - t0)}, took {span(took)}"
        tl.bars.append(Bar(s["task_key"], s["run_id"], s["status"], y, x, max(2.0, took * scale),
                           _clip(s["task_key"], 26), title, True))
    step = next((n for n in NICE_MS if n >= (t1 - t0) / 8), -(-(t1 - t0) // 8))
    tl.ticks = [(LABEL_W + t * scale, "0" if t == 0 else span(t)) for t in range(0, t1 - t0 + 1, step)]
    return tl

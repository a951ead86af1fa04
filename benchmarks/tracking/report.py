"""The printed table: per workload, wall time and server CPU per server, and ratios."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .workloads import WORKLOADS, Result, Sizes


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"


def cell(r: Result | None, with_db: bool) -> str:
    if r is None:
        return "-"
    if r.error:
        return "FAILED"
    flag = "" if r.ok in (None, True) else " !"
    db = f"+{r.db_cpu:.1f}" if with_db else ""
    if r.unit == "point":  # totals in seconds
        return f"{r.wall:.2f} / {r.cpu:.2f}{db} s{flag}"
    db = f"+{_ms(r.db_cpu / r.units)}" if with_db else ""
    return f"{_ms(r.wall / r.units)} / {_ms(r.cpu / r.units)}{db} ms{flag}"


def ratio(a: Result | None, b: Result | None, attr: str) -> str:
    if not a or not b or a.error or b.error:
        return "-"
    x, y = getattr(a, attr), getattr(b, attr)
    if attr == "cpu":
        x, y = x + a.db_cpu, y + b.db_cpu
    if y <= 0:
        return "inf" if x > 0 else "-"
    return f"{x / y:.1f}x"


def label(key: str, sizes: Sizes) -> str:
    text, unit = WORKLOADS[key]
    n = {"search": sizes.search_runs, "paging": sizes.search_runs, "history": sizes.history_steps,
         "bigsearch": sizes.big_runs}.get(key.split(".")[0])
    return text.replace(" N ", f" {n:,} ") if n else text


def units(key: str, results: dict[str, dict[str, Result]]) -> str:
    for rs in results.values():
        r = rs.get(key)
        if r and not r.error:
            return f"{r.units:,} {r.unit}s" if r.unit == "point" else f"per {r.unit} (n={r.units})"
    return ""


def table(results: dict[str, dict[str, Result]], sizes: Sizes, backend: str) -> str:
    servers = list(results)
    ref = "modelyard" if "modelyard" in servers else ("fml" if "fml" in servers else None)
    peers = [s for s in servers if s != ref] if ref else []
    with_db = backend == "postgresql"
    head = ["workload", "n"] + [f"{s} wall/cpu" for s in servers]
    head += [f"cpu {p}/{ref}" for p in peers] + [f"wall {p}/{ref}" for p in peers]
    rows = [head]
    for key in WORKLOADS:
        if not any(key in rs for rs in results.values()):
            continue
        row = [label(key, sizes), units(key, results)]
        row += [cell(results[s].get(key), with_db) for s in servers]
        row += [ratio(results[p].get(key), results[ref].get(key), "cpu") for p in peers]
        row += [ratio(results[p].get(key), results[ref].get(key), "wall") for p in peers]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    lines.append("")
    lines.append("cells: wall / server CPU; 'point' rows are totals in s, others per unit in ms"
                 + ("; +N = PostgreSQL CPU (whole cluster), counted in the cpu ratios" if with_db else "")
                 + "; '!' = wrong answer (see notes)")
    lines.append("")
    lines.append("notes:")
    for key in WORKLOADS:
        for s in servers:
            r = results[s].get(key)
            if r and (r.note or r.error):
                lines.append(f"  {key:<18} {s:<10} {r.error or r.note}" + ("" if r.ok in (None, True) else "  [WRONG]"))
    return "\n".join(lines)


def dump(path: Path, results: dict[str, dict[str, Result]], meta: dict[str, object]) -> None:
    out = {"meta": meta, "results": {s: {k: asdict(r) for k, r in rs.items()} for s, rs in results.items()}}
    path.write_text(json.dumps(out, indent=1, default=str))

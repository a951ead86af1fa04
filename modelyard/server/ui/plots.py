"""Small server-side SVG plots for the compare page: parallel coordinates and a scatter."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT, PAD = 760, 320, 40


def as_float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _heat(t: float) -> str:
    """Blue (low) to red (high)."""
    t = min(max(t, 0.0), 1.0)
    return f"rgb({int(59 + t * 157)},{int(111 - t * 24)},{int(216 - t * 157)})"


@dataclass
class Axis:
    label: str
    x: float
    ticks: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Scale:
    """Numbers on a linear scale; anything else as evenly spaced categories."""

    values: list[Any]
    lo: float = 0.0
    hi: float = 1.0
    categories: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        present = [v for v in self.values if v is not None]
        nums = [as_float(v) for v in present]
        if present and all(n is not None for n in nums):
            floats = [n for n in nums if n is not None]
            self.lo, self.hi = min(floats), max(floats)
        else:
            self.categories = sorted({str(v) for v in present})

    def position(self, value: Any) -> float | None:
        """0 (bottom) .. 1 (top), or None when missing."""
        if value is None:
            return None
        if self.categories:
            n = len(self.categories)
            return 0.5 if n == 1 else self.categories.index(str(value)) / (n - 1)
        f = as_float(value)
        if f is None:
            return None
        return 0.5 if self.hi == self.lo else (f - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        if self.categories:
            return [(self.position(c) or 0.0, c) for c in self.categories[:12]]
        if self.hi == self.lo:
            return [(0.5, f"{self.lo:.4g}")]
        return [(i / 4, f"{self.lo + (self.hi - self.lo) * i / 4:.4g}") for i in range(5)]


def _y(p: float) -> float:
    return round(HEIGHT - PAD - p * (HEIGHT - 2 * PAD), 1)


def parallel(columns: list[tuple[str, list[Any]]], names: list[str]) -> dict[str, Any]:
    """Parallel coordinates: one axis per column (the last one colours the lines)."""
    if len(columns) < 2 or not names:
        return {}
    step = (WIDTH - 2 * PAD) / (len(columns) - 1)
    scales = [Scale(values) for _, values in columns]
    axes = [Axis(label, round(PAD + i * step, 1), [(_y(p), t) for p, t in s.ticks()])
            for i, ((label, _), s) in enumerate(zip(columns, scales))]
    colour_scale = scales[-1]
    lines = []
    for r, name in enumerate(names):
        points = []
        for i, ((_, values), s) in enumerate(zip(columns, scales)):
            p = s.position(values[r])
            if p is not None:
                points.append(f"{axes[i].x},{_y(p)}")
        last = colour_scale.position(columns[-1][1][r])
        lines.append({"points": " ".join(points), "color": _heat(last) if last is not None else "#999", "name": name})
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "axes": axes, "lines": lines}


def scatter(xs: list[Any], ys: list[Any], names: list[str], colors: list[str], x_label: str,
            y_label: str) -> dict[str, Any]:
    """One point per run (``colors``: each run's own, as on every chart)."""
    sx, sy = Scale(xs), Scale(ys)
    points = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        px, py = sx.position(x), sy.position(y)
        if px is None or py is None:
            continue
        points.append({"cx": round(PAD + px * (WIDTH - 2 * PAD), 1), "cy": _y(py), "color": colors[i],
                       "title": f"{names[i]}: {x_label}={x}, {y_label}={y}"})
    x_ticks = [(round(PAD + p * (WIDTH - 2 * PAD), 1), t) for p, t in sx.ticks()]
    y_ticks = [(_y(p), t) for p, t in sy.ticks()]
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "points": points, "x_ticks": x_ticks,
            "y_ticks": y_ticks, "x_label": x_label, "y_label": y_label}

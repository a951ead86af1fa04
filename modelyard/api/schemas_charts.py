"""Declared request schemas of the chart boards (our extension): an experiment's saved chart layout.

A board is a list of panels and an optional grouping. A panel is one of:

- ``line``: a metric's history across runs; ``x`` is ``step``, ``time`` (wall clock) or ``relative``
  (seconds since each run's first point); ``smoothing`` (0 to 0.99, an exponential moving average);
  ``log`` for a logarithmic y axis;
- ``bar``: a metric's latest value per run (single-value metrics);
- ``scatter``: one value against another per run (``x_key``, ``y_key``: ``metrics:NAME``,
  ``params:NAME`` or ``tags:NAME``);
- ``parallel``: parallel coordinates over ``axes`` (the same kind of keys).

``group_by`` (``params:NAME`` or ``tags:NAME``) groups runs: line charts draw each group's mean with
a min-max band, bars and points take the group's colour.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .schemas import Request

PanelType = Literal["line", "bar", "scatter", "parallel"]
XAxis = Literal["step", "time", "relative"]


class ChartPanel(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    type: PanelType
    metric: str = ""
    title: str = ""
    x: XAxis = "step"
    smoothing: float = 0.0
    log: bool = False
    x_key: str = ""
    y_key: str = ""
    axes: list[str] = []


class ChartBoardLayout(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    panels: list[ChartPanel] = []
    group_by: str = ""


class GetChartBoard(Request):
    experiment_id: str | None = None


class SetChartBoard(Request):
    experiment_id: str | None = None
    layout: ChartBoardLayout | None = None

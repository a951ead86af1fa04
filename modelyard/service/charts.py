"""Chart boards: an experiment's saved chart layout (panels and grouping), checked before it is stored.

The layout is the UI's: ``modelyard.api.schemas_charts`` describes its panels. No saved layout
means the default board, a panel per metric of the runs shown.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import msgspec

from ..api.schemas_charts import ChartBoardLayout, ChartPanel
from ..errors import InvalidParameterValue
from ..store import TrackingStore
from ..store.charts import BoardRow
from .experiments import ExperimentService

MAX_PANELS = 60
MAX_AXES = 12
MAX_TEXT = 250
MAX_SMOOTHING = 0.99
VALUE_KINDS = ("metrics", "params", "tags")
GROUP_KINDS = ("params", "tags")


@dataclass(frozen=True)
class ChartBoard:
    experiment_id: str
    layout: ChartBoardLayout
    updated_by: str | None
    updated_ms: int

    def to_dict(self) -> dict[str, object]:
        return {"experiment_id": self.experiment_id, "layout": msgspec.to_builtins(self.layout),
                "updated_by": self.updated_by, "updated_time": self.updated_ms}


def _text(value: str, where: str) -> None:
    if len(value) > MAX_TEXT:
        raise InvalidParameterValue(f"{where} is {len(value)} characters long: give at most {MAX_TEXT}.")


def _token(value: str, where: str, kinds: tuple[str, ...]) -> None:
    kind, sep, key = value.partition(":")
    if not sep or kind not in kinds or not key:
        wanted = ", ".join(f"'{k}:NAME'" for k in kinds)
        raise InvalidParameterValue(f"{where} is {value!r}: give one of {wanted}.")
    _text(value, where)


def _check_panel(panel: ChartPanel, where: str) -> None:
    _text(panel.title, f"{where}.title")
    if panel.type in ("line", "bar"):
        if not panel.metric:
            raise InvalidParameterValue(f"{where}.metric is missing: a {panel.type} chart needs a metric key.")
        _text(panel.metric, f"{where}.metric")
    if not (math.isfinite(panel.smoothing) and 0.0 <= panel.smoothing <= MAX_SMOOTHING):
        raise InvalidParameterValue(f"{where}.smoothing is {panel.smoothing}: give a number from 0 to {MAX_SMOOTHING}.")
    if panel.type == "scatter":
        _token(panel.x_key, f"{where}.x_key", VALUE_KINDS)
        _token(panel.y_key, f"{where}.y_key", VALUE_KINDS)
    if panel.type == "parallel":
        if not 2 <= len(panel.axes) <= MAX_AXES:
            raise InvalidParameterValue(f"{where}.axes has {len(panel.axes)} keys: give from 2 to {MAX_AXES}.")
        for i, axis in enumerate(panel.axes):
            _token(axis, f"{where}.axes[{i}]", VALUE_KINDS)


def check_layout(layout: ChartBoardLayout | None) -> ChartBoardLayout:
    """``layout`` if every panel is complete and within bounds; else an error naming the field."""
    if layout is None:
        raise InvalidParameterValue("Missing value for required parameter 'layout'.")
    if len(layout.panels) > MAX_PANELS:
        raise InvalidParameterValue(f"layout.panels has {len(layout.panels)} panels: give at most {MAX_PANELS}.")
    for i, panel in enumerate(layout.panels):
        _check_panel(panel, f"layout.panels[{i}]")
    if layout.group_by:
        _token(layout.group_by, "layout.group_by", GROUP_KINDS)
    return layout


def parse_layout(text: str) -> ChartBoardLayout:
    """A layout from JSON text (the UI's form), checked; errors name the field."""
    try:
        layout = msgspec.json.decode(text, type=ChartBoardLayout)
    except msgspec.ValidationError as exc:
        raise InvalidParameterValue(f"Invalid layout: {exc}".replace("`$", "`layout")) from None
    except msgspec.DecodeError:
        raise InvalidParameterValue("Invalid layout: it is not JSON.") from None
    return check_layout(layout)


class ChartBoardService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService) -> None:
        self.store = store
        self.experiments = experiments

    def get(self, experiment_id: str | int) -> ChartBoard | None:
        """The saved board of an experiment, or None (the default board)."""
        exp = self.experiments.get(experiment_id)
        row = self.store.charts.get(int(exp.experiment_id))
        if row is None:
            return None
        layout = msgspec.json.decode(row.layout, type=ChartBoardLayout)
        return ChartBoard(exp.experiment_id, layout, row.updated_by, row.updated_ms)

    def set(self, experiment_id: str | int, layout: ChartBoardLayout | None, user: str | None) -> ChartBoard:
        exp = self.experiments.get(experiment_id)
        checked = check_layout(layout)
        row = BoardRow(int(exp.experiment_id), json.dumps(msgspec.to_builtins(checked), separators=(",", ":")),
                       user, int(time.time() * 1000))
        self.store.charts.put(row)
        return ChartBoard(exp.experiment_id, checked, user, row.updated_ms)

    def delete(self, experiment_id: str | int) -> bool:
        exp = self.experiments.get(experiment_id)
        return self.store.charts.delete(int(exp.experiment_id))

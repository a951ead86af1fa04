"""Operations on chart boards: an experiment's saved chart layout, shared by everyone who opens it."""

from __future__ import annotations

from . import schemas_charts as s
from .operations import EXT, Table, edit, read

t = Table("charts", "modelyard.service.handlers")
P = f"{EXT}/chart-boards"

GET_CHART_BOARD = t.add("get_chart_board", "GET", f"{P}/get", s.GetChartBoard, "charts:get_board",
                        read("experiment", "experiment_id"), idempotent=True,
                        summary="An experiment's saved chart layout (none saved: the default, a panel per metric).")
SET_CHART_BOARD = t.add("set_chart_board", "POST", f"{P}/set", s.SetChartBoard, "charts:set_board",
                        edit("experiment", "experiment_id"), idempotent=True,
                        summary="Save an experiment's chart layout: panels and grouping.")
DELETE_CHART_BOARD = t.add("delete_chart_board", "POST", f"{P}/delete", s.GetChartBoard, "charts:delete_board",
                           edit("experiment", "experiment_id"), idempotent=True,
                           summary="Forget an experiment's saved chart layout (back to the default).")

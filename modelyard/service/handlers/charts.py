"""/chart-boards: an experiment's saved chart layout (get, set, delete)."""

from __future__ import annotations

from typing import Any

from ...api.schemas_charts import GetChartBoard, SetChartBoard
from .. import TrackingService
from ..caller import caller


def get_board(svc: TrackingService, req: GetChartBoard) -> dict[str, Any]:
    board = svc.charts.get(req.experiment_id or "")
    return {"board": board.to_dict()} if board is not None else {}


def set_board(svc: TrackingService, req: SetChartBoard) -> dict[str, Any]:
    who = caller.get()
    board = svc.charts.set(req.experiment_id or "", req.layout, who.username if who is not None else None)
    return {"board": board.to_dict()}


def delete_board(svc: TrackingService, req: GetChartBoard) -> None:
    svc.charts.delete(req.experiment_id or "")

"""Monitoring methods of ``Client``: reference profiles, monitors, their results and alerts.

>>> c = my.Client()
>>> c.set_reference_profile("churn", 3, my.monitoring.profile(train_df))
>>> c.create_monitor("churn-daily", "churn", alias="champion", task="classification", interval_s=3600,
...                  rules=[{"metric": "f1", "op": "<", "threshold": 0.8}])
>>> c.run_monitor("churn-daily")["metrics"]["share_drifted"]

Each method is one operation of the table (``api/monitoring.py``), in process or over HTTP.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..api import monitoring as ops
from ..api.operations import Operation


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class MonitoringMethods:

    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    def _monitoring(self, method: str, op: str, payload: dict[str, Any]) -> dict[str, Any]:
        operation = ops.BY_PATH[op]
        return self._call(operation, msgspec.convert(_drop_none(payload), operation.request))

    # ---- reference profiles ---------------------------------------------------

    def set_reference_profile(self, model_name: str, version: str | int, profile: dict[str, Any]) -> dict[str, Any]:
        """Store a reference profile (``my.monitoring.profile(df)``) with a model version."""
        return self._monitoring("POST", "references/set",
                                {"model_name": model_name, "version": str(version), "profile": profile})

    def get_reference_profile(self, model_name: str, version: str | int) -> dict[str, Any]:
        out = self._monitoring("GET", "references/get", {"model_name": model_name, "version": str(version)})
        return out["profile"]  # type: ignore[no-any-return]

    def delete_reference_profile(self, model_name: str, version: str | int) -> None:
        self._monitoring("POST", "references/delete", {"model_name": model_name, "version": str(version)})

    # ---- monitors -------------------------------------------------------------

    def create_monitor(self, name: str, model_name: str, *, version: str | int | None = None,
                       alias: str | None = None, task: str | None = None, interval_s: int | None = None,
                       window_minutes: float | None = None, window_rows: int | None = None,
                       rules: list[dict[str, Any]] | None = None, alpha: float | None = None,
                       thresholds: dict[str, float] | None = None, description: str | None = None,
                       source: dict[str, Any] | None = None) -> dict[str, Any]:
        """A monitor of ``model_name`` (a ``version`` or an ``alias``) over the serving request log, or over
        traces with ``source={"kind": "traces"}`` (cost and latency; see ``service/trace_alerts.py``)."""
        payload = _drop_none({"source": source,
            "name": name, "model_name": model_name, "version": None if version is None else str(version),
            "alias": alias, "task": task, "interval_s": interval_s, "window_minutes": window_minutes,
            "window_rows": window_rows, "rules": rules, "alpha": alpha, "thresholds": thresholds,
            "description": description})
        return self._monitoring("POST", "monitors/create", payload)["monitor"]  # type: ignore[no-any-return]

    def update_monitor(self, name: str, **changes: Any) -> dict[str, Any]:
        if changes.get("version") is not None:
            changes["version"] = str(changes["version"])
        payload = _drop_none({"name": name, **changes})
        return self._monitoring("POST", "monitors/update", payload)["monitor"]  # type: ignore[no-any-return]

    def get_monitor(self, name: str) -> dict[str, Any]:
        return self._monitoring("GET", "monitors/get", {"name": name})["monitor"]  # type: ignore[no-any-return]

    def list_monitors(self, model_name: str | None = None, max_results: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        out = self._monitoring("GET", "monitors/list",
                               {"model_name": model_name, "max_results": max_results, "offset": offset})
        return out.get("monitors", [])  # type: ignore[no-any-return]

    def delete_monitor(self, name: str) -> None:
        self._monitoring("POST", "monitors/delete", {"name": name})

    def run_monitor(self, name: str) -> dict[str, Any]:
        """Run a monitor now; its result (``metrics``, ``report``) is stored and returned."""
        return self._monitoring("POST", "monitors/run", {"name": name})["result"]  # type: ignore[no-any-return]

    def monitor_results(self, name: str, max_results: int = 100, offset: int = 0,
                        with_report: bool = False) -> list[dict[str, Any]]:
        """A monitor's results, newest first."""
        out = self._monitoring("GET", "results/list", {"name": name, "max_results": max_results, "offset": offset,
                                                       "with_report": with_report})
        return out.get("results", [])  # type: ignore[no-any-return]

    def get_monitor_result(self, result_id: str | int) -> dict[str, Any]:
        return self._monitoring("GET", "results/get", {"result_id": str(result_id)})["result"]  # type: ignore[no-any-return]

    # ---- alerts -----------------------------------------------------------------

    def list_alerts(self, monitor_name: str | None = None, status: str | None = None, max_results: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
        out = self._monitoring("GET", "alerts/list", {"monitor_name": monitor_name, "status": status,
                                                      "max_results": max_results, "offset": offset})
        return out.get("alerts", [])  # type: ignore[no-any-return]

    def acknowledge_alert(self, alert_id: str | int, acknowledged_by: str | None = None) -> dict[str, Any]:
        out = self._monitoring("POST", "alerts/acknowledge",
                               {"alert_id": str(alert_id), "acknowledged_by": acknowledged_by})
        return out["alert"]  # type: ignore[no-any-return]

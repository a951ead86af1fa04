"""Monitoring methods of ``Client``: reference profiles, monitors, their results and alerts.

>>> c = my.Client()
>>> c.set_reference_profile("churn", 3, my.monitoring.profile(train_df))
>>> c.create_monitor("churn-daily", "churn", alias="champion", task="classification", interval_s=3600,
...                  rules=[{"metric": "f1", "op": "<", "threshold": 0.8}])
>>> c.run_monitor("churn-daily")["metrics"]["share_drifted"]

Over HTTP each method is one call to ``/api/2.0/modelyard/monitoring/...``; in
process the same answer comes from the service (the table ``_LOCAL`` below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_P = "/api/2.0/modelyard/monitoring"


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _monitor_kwargs(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in ("name", "model_name")}


_LOCAL: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {
    "references/set": lambda m, p: m.set_reference(p["model_name"], p["version"], p["profile"]),
    "references/get": lambda m, p: {"profile": m.get_reference(p["model_name"], p["version"])},
    "references/delete": lambda m, p: m.delete_reference(p["model_name"], p["version"]) or {},
    "monitors/create": lambda m, p: {"monitor": m.create_monitor(p["name"], p["model_name"],
                                                                 **_monitor_kwargs(p)).to_dict()},
    "monitors/update": lambda m, p: {"monitor": m.update_monitor(p["name"], **_monitor_kwargs(p)).to_dict()},
    "monitors/get": lambda m, p: {"monitor": m.get_monitor(p["name"]).to_dict()},
    "monitors/list": lambda m, p: {"monitors": [x.to_dict() for x in m.list_monitors(
        p.get("model_name"), p["max_results"], p["offset"])]},
    "monitors/delete": lambda m, p: m.delete_monitor(p["name"]) or {},
    "monitors/run": lambda m, p: {"result": m.run_monitor(p["name"]).to_dict()},
    "results/list": lambda m, p: {"results": [r.to_dict(p["with_report"]) for r in m.results(
        p["name"], p["max_results"], p["offset"], p["with_report"])]},
    "results/get": lambda m, p: {"result": m.get_result(p["result_id"]).to_dict()},
    "alerts/list": lambda m, p: {"alerts": [a.to_dict() for a in m.alerts(
        p.get("monitor_name"), p.get("status"), p["max_results"], p["offset"])]},
    "alerts/acknowledge": lambda m, p: {"alert": m.acknowledge_alert(p["alert_id"], p.get("acknowledged_by")).to_dict()},
}


class MonitoringMethods:
    _t: Any

    def _monitoring(self, method: str, op: str, payload: dict[str, Any]) -> dict[str, Any]:
        service = getattr(self._t, "service", None)
        if service is not None:  # in process
            return _LOCAL[op](service.monitoring, payload)
        if method == "GET":
            return self._t.send("GET", f"{_P}/{op}", params=_drop_none(payload))  # type: ignore[no-any-return]
        return self._t.send("POST", f"{_P}/{op}", _drop_none(payload))  # type: ignore[no-any-return]

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
                       thresholds: dict[str, float] | None = None, description: str | None = None) -> dict[str, Any]:
        """A monitor of ``model_name`` (a ``version`` or an ``alias``) over the serving request log."""
        payload = _drop_none({
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

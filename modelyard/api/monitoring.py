"""Operations on monitoring: reference profiles, monitors, their results and alerts (our extension)."""

from __future__ import annotations

from . import schemas_monitoring as s
from .operations import EXT, Table, edit, manage, read

t = Table("monitoring", "modelyard.service.handlers")
P = f"{EXT}/monitoring"
MODEL_READ = read("registered_model", "model_name")
MODEL_EDIT = edit("registered_model", "model_name")

SET_REFERENCE = t.add("set_reference_profile", "POST", f"{P}/references/set", s.SetReference,
                      "monitoring:set_reference", MODEL_EDIT, idempotent=True,
                      summary="Store a reference profile with a model version.")
GET_REFERENCE = t.add("get_reference_profile", "GET", f"{P}/references/get", s.GetReference,
                      "monitoring:get_reference", MODEL_READ, idempotent=True,
                      summary="A model version's reference profile.")
DELETE_REFERENCE = t.add("delete_reference_profile", "POST", f"{P}/references/delete", s.GetReference,
                         "monitoring:delete_reference", manage("registered_model", "model_name"), idempotent=True,
                         summary="Remove a model version's reference profile.")
CREATE_MONITOR = t.add("create_monitor", "POST", f"{P}/monitors/create", s.CreateMonitor,
                       "monitoring:create_monitor", MODEL_EDIT,
                       summary="Watch a model version or alias: drift, data quality, performance, alert rules.")
UPDATE_MONITOR = t.add("update_monitor", "POST", f"{P}/monitors/update", s.UpdateMonitor,
                       "monitoring:update_monitor", edit("monitor", "name"), idempotent=True, summary="Change a monitor.")
GET_MONITOR = t.add("get_monitor", "GET", f"{P}/monitors/get", s.MonitorName, "monitoring:get_monitor",
                    read("monitor", "name"),
                    idempotent=True, summary="A monitor by name.")
LIST_MONITORS = t.add("list_monitors", "GET", f"{P}/monitors/list", s.ListMonitors, "monitoring:list_monitors",
                      read(), idempotent=True, summary="Monitors, of one model or all.")
DELETE_MONITOR = t.add("delete_monitor", "POST", f"{P}/monitors/delete", s.MonitorName,
                       "monitoring:delete_monitor", edit("monitor", "name"), idempotent=True,
                       summary="Delete a monitor with its results and alerts.")
RUN_MONITOR = t.add("run_monitor", "POST", f"{P}/monitors/run", s.MonitorName, "monitoring:run_monitor",
                    edit("monitor", "name"),
                    summary="Run a monitor now; its result and alerts commit together.")
LIST_RESULTS = t.add("list_monitor_results", "GET", f"{P}/results/list", s.ListResults, "monitoring:list_results",
                     read("monitor", "name"), idempotent=True, summary="A monitor's results, newest first.")
GET_RESULT = t.add("get_monitor_result", "GET", f"{P}/results/get", s.GetResult, "monitoring:get_result",
                   read("monitor_result", "result_id"),
                   idempotent=True, summary="One result with its report.")
LIST_ALERTS = t.add("list_monitor_alerts", "GET", f"{P}/alerts/list", s.ListAlerts, "monitoring:list_alerts",
                    read("monitor", "monitor_name"), idempotent=True, summary="Alerts, of one monitor or all, by status.")
ACK_ALERT = t.add("acknowledge_monitor_alert", "POST", f"{P}/alerts/acknowledge", s.AcknowledgeAlert,
                  "monitoring:acknowledge_alert",
                  edit("monitor_alert", "alert_id"), idempotent=True, summary="Acknowledge an alert.")

BY_PATH = {op.path.removeprefix(P + "/"): op for op in t}

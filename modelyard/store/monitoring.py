"""Monitoring in SQL: reference profiles, monitors, their results and alerts.

:meth:`MonitoringStore.record_result` writes a monitor's result, the alerts its
rules raised and their webhook events in one transaction: an alert exists
exactly when its result does. :meth:`MonitoringStore.claim_due` hands a due
monitor to one caller for a lease (a compare-and-set ``UPDATE``), so a
scheduled monitor runs once however many server processes poll.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..entities.monitoring import Alert, Monitor, MonitorResult
from ..errors import ResourceAlreadyExists, ResourceDoesNotExist
from . import monitoring_schema as s
from .database import Database
from .visibility import Visibility, model_readable
from .webhooks import enqueue_event
from .workspaces import key_in_scope, model_key, name_key, shown_name

__all__ = ["ALERT_EVENT", "MonitoringStore"]

ALERT_EVENT = "monitor_alert.fired"


# A monitor is stored by its key (store.workspaces.name_key): a name of the request's workspace, or a key
# (``prod:watch``, as the scheduler runs it), goes in through name_key and comes out through shown_name.
def _monitor(row: Any) -> Monitor:
    return Monitor(shown_name(row.name), shown_name(row.model_name), row.model_version, row.alias, row.task, json.loads(row.spec),
                   row.interval_s, row.created_ms, row.updated_ms, row.next_run_ms)


def _result(row: Any, with_report: bool) -> MonitorResult:
    return MonitorResult(row.id, shown_name(row.monitor_name), row.model_version, row.started_ms, row.window_start_ms,
                         row.window_end_ms, row.rows, row.labelled, json.loads(row.metrics),
                         json.loads(row.report) if with_report else {})


def _alert(row: Any) -> Alert:
    return Alert(row.id, shown_name(row.monitor_name), row.result_id, row.rule, row.metric, row.value, row.threshold, row.message,
                 row.status, row.created_ms, row.acknowledged_ms, row.acknowledged_by)


class MonitoringStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- reference profiles ---------------------------------------------------

    def set_reference(self, model_name: str, version: str, profile: dict[str, Any], now: int) -> None:
        t = s.monitoring_references
        model_name = model_key(model_name)
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.model_name == model_name, t.c.model_version == version))
            conn.execute(insert(t).values(model_name=model_name, model_version=version, profile=json.dumps(profile),
                                          rows=int(profile.get("rows", 0)), created_ms=now))

    def get_reference(self, model_name: str, version: str) -> dict[str, Any] | None:
        t = s.monitoring_references
        with self.db.read() as conn:
            text = conn.execute(select(t.c.profile).where(t.c.model_name == model_key(model_name),
                                                          t.c.model_version == version)).scalar()
        if text is None:
            return None
        found: dict[str, Any] = json.loads(text)
        return found

    def delete_reference(self, model_name: str, version: str) -> bool:
        t = s.monitoring_references
        with self.db.write() as conn:
            done = conn.execute(delete(t).where(t.c.model_name == model_key(model_name), t.c.model_version == version))
        return bool(done.rowcount)

    # ---- monitors -------------------------------------------------------------

    def create_monitor(self, m: Monitor) -> Monitor:
        try:
            with self.db.write() as conn:
                conn.execute(insert(s.monitors).values(
                    name=name_key(m.name), model_name=model_key(m.model_name), model_version=m.model_version, alias=m.alias,
                    task=m.task,
                    spec=json.dumps(m.spec), interval_s=m.interval_s, created_ms=m.created_ms,
                    updated_ms=m.updated_ms, next_run_ms=m.next_run_ms))
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Monitor {m.name!r} already exists; pick another name or update it.") from exc
        return self.get_monitor(m.name)

    def get_monitor(self, name: str) -> Monitor:
        with self.db.read() as conn:
            row = conn.execute(select(s.monitors).where(s.monitors.c.name == name_key(name))).first()
        if row is None:
            raise ResourceDoesNotExist(f"Monitor {name!r} not found.")
        return _monitor(row)

    def list_monitors(self, model_name: str | None, limit: int, offset: int,
                      visible: Visibility | None = None, every_workspace: bool = False) -> list[Monitor]:
        """A page of monitors on models of the request's workspace (``every_workspace``: of all; ``visible``: only
        those on a registered model the caller may read)."""
        q = select(s.monitors).order_by(s.monitors.c.name).limit(limit).offset(offset)
        if not every_workspace:
            q = q.where(key_in_scope(s.monitors.c.model_name))
        if model_name is not None:
            q = q.where(s.monitors.c.model_name == model_key(model_name))
        if visible is not None:
            q = q.where(model_readable(visible, s.monitors.c.model_name))
        with self.db.read() as conn:
            return [_monitor(r) for r in conn.execute(q)]

    def update_monitor(self, m: Monitor) -> Monitor:
        with self.db.write() as conn:
            done = conn.execute(update(s.monitors).where(s.monitors.c.name == name_key(m.name)).values(
                model_version=m.model_version, alias=m.alias, task=m.task, spec=json.dumps(m.spec),
                interval_s=m.interval_s, updated_ms=m.updated_ms, next_run_ms=m.next_run_ms))
        if not done.rowcount:
            raise ResourceDoesNotExist(f"Monitor {m.name!r} not found.")
        return self.get_monitor(m.name)

    def set_run_id(self, name: str, run_id: str) -> None:
        """Remember the run a monitor logs its scores to (in its spec)."""
        key = name_key(name)
        with self.db.write() as conn:
            text = conn.execute(select(s.monitors.c.spec).where(s.monitors.c.name == key)).scalar()
            if text is not None:
                spec = {**json.loads(text), "run_id": run_id}
                conn.execute(update(s.monitors).where(s.monitors.c.name == key).values(spec=json.dumps(spec)))

    def delete_monitor(self, name: str) -> None:
        with self.db.write() as conn:
            done = conn.execute(delete(s.monitors).where(s.monitors.c.name == name_key(name)))
        if not done.rowcount:
            raise ResourceDoesNotExist(f"Monitor {name!r} not found.")

    def claim_due(self, now: int, lease_ms: int) -> list[str]:
        """Keys of monitors due at ``now`` (``prod:watch`` outside the default workspace), each leased to this caller
        until ``now + lease_ms``."""
        m = s.monitors.c
        due = and_(m.next_run_ms.is_not(None), m.next_run_ms <= now,
                   or_(m.lease_until_ms.is_(None), m.lease_until_ms < now))
        with self.db.read() as conn:
            names = list(conn.execute(select(m.name).where(due).order_by(m.next_run_ms).limit(20)).scalars())
        claimed = []
        for name in names:
            with self.db.write() as conn:
                done = conn.execute(update(s.monitors).where(m.name == name, due).values(lease_until_ms=now + lease_ms))
            if done.rowcount:
                claimed.append(name)
        return claimed

    def next_due_ms(self) -> int | None:
        with self.db.read() as conn:
            due: int | None = conn.execute(select(func.min(s.monitors.c.next_run_ms))).scalar()
        return due

    # ---- results and alerts ---------------------------------------------------

    def record_result(self, r: MonitorResult, alerts: list[Alert], next_run_ms: int | None,
                      event_data: Callable[[Alert], dict[str, Any]]) -> tuple[int, list[Alert]]:
        """Store a result, its alerts and their webhook events, and release the monitor's lease: one transaction.

        ``event_data(alert)`` gives an alert's webhook payload once its id is
        known: the caller (the service) decides the JSON shape, the store only
        writes it (the alert names its monitor by key there: ``prod:watch``).
        """
        key = name_key(r.monitor_name)
        with self.db.write() as conn:
            rid = conn.execute(insert(s.monitor_results).values(
                monitor_name=key, model_version=r.model_version, started_ms=r.started_ms,
                window_start_ms=r.window_start_ms, window_end_ms=r.window_end_ms, rows=r.rows, labelled=r.labelled,
                metrics=json.dumps(r.metrics), report=json.dumps(r.report)).returning(s.monitor_results.c.id)).scalar_one()
            stored = []
            for a in alerts:
                a.result_id, a.monitor_name = rid, key
                a.id = conn.execute(insert(s.monitor_alerts).values(
                    monitor_name=key, result_id=rid, rule=a.rule, metric=a.metric, value=a.value,
                    threshold=a.threshold, message=a.message, status=a.status,
                    created_ms=a.created_ms).returning(s.monitor_alerts.c.id)).scalar_one()
                enqueue_event(conn, ALERT_EVENT, event_data(a), a.created_ms)
                a.monitor_name = shown_name(key)
                stored.append(a)
            values: dict[str, Any] = {"lease_until_ms": None}
            if next_run_ms is not None:
                values["next_run_ms"] = next_run_ms
            conn.execute(update(s.monitors).where(s.monitors.c.name == key).values(**values))
        return rid, stored

    def results(self, monitor_name: str, limit: int, offset: int, with_report: bool) -> list[MonitorResult]:
        t = s.monitor_results
        cols = [c for c in t.c if with_report or c.name != "report"]
        q = (select(*cols).where(t.c.monitor_name == name_key(monitor_name)).order_by(t.c.started_ms.desc(), t.c.id.desc())
             .limit(limit).offset(offset))
        with self.db.read() as conn:
            return [_result(row, with_report) for row in conn.execute(q)]

    def get_result(self, result_id: int) -> MonitorResult:
        with self.db.read() as conn:
            row = conn.execute(select(s.monitor_results).where(s.monitor_results.c.id == result_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Monitor result {result_id} not found.")
        return _result(row, True)

    def alerts(self, monitor_name: str | None, status: str | None, limit: int, offset: int,
               visible: Visibility | None = None) -> list[Alert]:
        """A page of alerts, newest first (``visible``: only those of a monitor on a registered model the caller
        may read, and those whose monitor is gone, as a check of one alert allows)."""
        t, m = s.monitor_alerts, s.monitors
        q = select(t).order_by(t.c.created_ms.desc(), t.c.id.desc()).limit(limit).offset(offset)
        q = q.select_from(t.outerjoin(m, m.c.name == t.c.monitor_name)).where(  # those of this workspace's models
            or_(m.c.name.is_(None), key_in_scope(m.c.model_name)))
        if visible is not None:
            q = q.where(or_(m.c.name.is_(None), model_readable(visible, m.c.model_name)))
        if monitor_name is not None:
            q = q.where(t.c.monitor_name == name_key(monitor_name))
        if status is not None:
            q = q.where(t.c.status == status)
        with self.db.read() as conn:
            return [_alert(r) for r in conn.execute(q)]

    def model_of(self, kind: str, key: int | str) -> str | None:
        """The registered model a monitor (by name), a result or an alert (by id) watches; None if not there."""
        m, r, al = s.monitors, s.monitor_results, s.monitor_alerts
        q = select(m.c.model_name)
        if kind == "monitor":
            q = q.where(m.c.name == name_key(str(key)))
        elif kind == "monitor_result":
            q = q.join(r, r.c.monitor_name == m.c.name).where(r.c.id == key)
        else:
            q = q.join(al, al.c.monitor_name == m.c.name).where(al.c.id == key)
        with self.db.read() as conn:
            found = conn.execute(q).scalar()
        return None if found is None else str(found)

    def last_alert(self, monitor_name: str, rule: str) -> Alert | None:
        t = s.monitor_alerts
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.monitor_name == name_key(monitor_name), t.c.rule == rule)
                               .order_by(t.c.created_ms.desc(), t.c.id.desc()).limit(1)).first()
        return None if row is None else _alert(row)

    def acknowledge(self, alert_id: int, who: str | None, now: int) -> Alert:
        t = s.monitor_alerts
        with self.db.write() as conn:
            done = conn.execute(update(t).where(t.c.id == alert_id, t.c.status == "open")
                                .values(status="acknowledged", acknowledged_ms=now, acknowledged_by=who))
            row = conn.execute(select(t).where(t.c.id == alert_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Alert {alert_id} not found.")
        _ = done
        return _alert(row)

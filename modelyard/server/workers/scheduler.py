"""The pipeline scheduler: fires due schedule ticks and trigger events, once across server processes.

Every ``interval`` seconds each server process asks the service for due ticks;
a tick is a unique (schedule, tick time) row, so of several processes exactly one
wins it and launches the run. The claim is a lease: the winner renews it each
pass until the run's process has recorded itself (the tick turns ``launched``),
and marks the tick ``failed`` if that process ends first. If the winner dies
before, its lease runs out (``scheduler_tick_lease_seconds``, well above a
run's start-up time, so an orphaned run would have recorded itself by then)
and another server takes the tick over, once. Model-version triggers poll the registry for new
versions; HTTP and API triggers queue events, claimed the same way (leased,
renewed, taken over once). Runs start
as ``modelyard pipelines run`` subprocesses on this machine, reporting to this
server over HTTP (so artifacts go where the server keeps them); with
``--executor ray`` that process submits the steps to Ray.

A schedule or trigger names a registered pipeline
(:mod:`~modelyard.service.pipeline_registry`); each launch resolves that name
again to the ``module:attr`` the operator registered, and the run's process
imports that module by name (``--server-launched``: it refuses a file, and
reuses no stored output whose loading runs code, pickle or model, since anyone
who reaches the server can record cache entries). A name that is not registered
(or a file path stored before registration existed) is never run: its tick or
event ends as ``unregistered`` and the server logs why.

Polling: every :data:`INTERVAL` (0.5 s) while there is something to watch (an
active schedule or trigger, or a claim whose run has not recorded itself yet),
else every :data:`IDLE_INTERVAL` (5 s), so an idle server costs next to nothing.
A schedule or trigger created or resumed, or a trigger fired, through this
process's service wakes the scheduler at once
(:meth:`~modelyard.service.pipelines.PipelinesService.add_listener`); one
created by another process (another server worker, the embedded SDK over the
same database) is picked up within :data:`IDLE_INTERVAL` seconds, and a tick
that falls due meanwhile is late by that much at most, never lost.

The clock is injectable: ``Scheduler(service, clock=lambda: t)`` and ``tick()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, cast

from ...service.pipeline_registry import HOW_TO_REGISTER

log = logging.getLogger("modelyard.scheduler")
UNREGISTERED = "unregistered"  # the status of a tick or event whose pipeline is not registered: it is not run
INTERVAL = 0.5  # seconds between passes while a schedule, trigger or claim is active
CREDENTIALS = tuple(f"{prefix}_TRACKING_{name}" for prefix in ("MODELYARD", "MLFLOW")
                    for name in ("USERNAME", "PASSWORD", "TOKEN"))
IDLE_INTERVAL = 5.0  # seconds between passes while there is none: the bound for changes made by other processes

Launcher = Callable[[list[str]], Any]


class Scheduler:
    def __init__(
        self, service: Any, *, clock: Callable[[], float] = time.time, interval: float = INTERVAL,
        idle_interval: float = IDLE_INTERVAL, launcher: Launcher | None = None, tracking_uri: str | None = None,
    ) -> None:
        self.service = service
        self.clock = clock
        self.interval = interval
        self.idle_interval = idle_interval
        self.launcher = launcher or self._popen
        settings = service.settings
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.tracking_uri = tracking_uri or f"http://{host}:{settings.port}"
        self.children: list[subprocess.Popen[bytes]] = []
        self.owner = uuid.uuid4().hex  # who holds this scheduler's tick and event leases
        self.lease_ms = int(float(getattr(settings, "scheduler_tick_lease_seconds", 300.0)) * 1000)
        self._warned = False
        self.pending: dict[int, Any] = {}  # tick id -> what the launcher returned, until the run records itself
        self.pending_events: dict[int, Any] = {}  # trigger event id -> likewise
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self.passes = 0  # passes run by the background loop
        self._unregistered: set[tuple[str, str, str]] = set()  # schedules and triggers already reported unregistered

    def tick(self) -> int:
        """One pass: launch what is due now; the number of runs launched."""
        now = int(self.clock() * 1000)
        svc = self.service.pipelines
        launched = 0
        self._keep_leases(now)
        claimed = svc.due_ticks(now, self.owner, self.lease_ms) + svc.take_over_ticks(self.owner, now, self.lease_ms)
        for due in claimed:
            sched = due["schedule"]
            reference = self._registered(sched, "schedule", due["tick_id"])
            if reference is None:
                svc.finish_tick(due["tick_id"], self.owner, UNREGISTERED)
                continue
            args = self._command(reference, sched["params"], sched["executor"], f"schedule:{sched['name']}")
            args += ["--tick-id", str(due["tick_id"])]
            if sched.get("date_param"):
                date = datetime.fromtimestamp(due["tick_time"] / 1000, tz=timezone.utc).isoformat()
                args += ["--logical-date", date, "--date-param", sched["date_param"]]
            child = self._start(args)
            if child is self._FAILED:
                svc.finish_tick(due["tick_id"], self.owner, "failed")
            else:
                self.pending[due["tick_id"]] = child
                launched += 1
        svc.poll_model_versions()
        events = (svc.claim_events(owner=self.owner, lease_ms=self.lease_ms, now=now)
                  + svc.take_over_events(self.owner, now, self.lease_ms))
        for event in events:
            trig = event["trigger"]
            reference = self._registered(trig, "trigger", event["event_id"])
            if reference is None:
                svc.finish_event(event["event_id"], self.owner, UNREGISTERED)
                continue
            params = {**trig["params"], **{k: v for k, v in event["payload"].items()}}
            args = self._command(reference, params, trig["executor"], f"trigger:{trig['name']}")
            args += ["--event-id", str(event["event_id"]), "--ignore-unknown-params"]
            child = self._start(args)
            if child is self._FAILED:
                svc.finish_event(event["event_id"], self.owner, "failed")
            else:
                self.pending_events[event["event_id"]] = child
                launched += 1
        self.children = [c for c in self.children if c.poll() is None]
        return launched

    def _registered(self, entry: dict[str, Any], what: str, claim_id: int) -> str | None:
        """The ``module:attr`` of the registered pipeline a schedule or trigger names, resolved now; else None (logged).

        A schedule or trigger stored before registration existed names a file: it never runs.
        """
        found = self.service.pipelines.registry.get(entry["reference"])
        if found is None:
            seen = (what, entry["name"], entry["reference"])
            report = log.debug if seen in self._unregistered else log.warning  # once per schedule or trigger
            self._unregistered.add(seen)
            report("%s %r names %r, which is not a registered pipeline: %s %s not run (status %r). %s",
                        what, entry["name"], entry["reference"], "tick" if what == "schedule" else "event", claim_id,
                        UNREGISTERED, HOW_TO_REGISTER)
            return None
        return cast("str | None", found.reference)

    def _command(self, reference: str, params: dict[str, Any], executor: str | None, trigger: str) -> list[str]:
        return [
            sys.executable, "-m", "modelyard.cli", "pipelines", "run", reference, "--quiet", "--server-launched",
            "--tracking-uri", self.tracking_uri, "--executor", executor or "process",
            "--params-json", json.dumps(params), "--trigger", trigger,
        ]

    def _keep_leases(self, now: int) -> None:
        """Renew the leases of ticks and events whose run has not recorded itself yet; fail those whose process ended."""
        svc = self.service.pipelines
        self._keep(self.pending, "tick", svc.renew_ticks, svc.finish_tick, now)
        self._keep(self.pending_events, "event", svc.renew_events, svc.finish_event, now)

    def _keep(self, pending: dict[int, Any], what: str, renew: Callable[..., list[int]],
              finish: Callable[[int, str, str], bool], now: int) -> None:
        if not pending:
            return
        held = set(renew(self.owner, list(pending), now, self.lease_ms))
        for claim_id, child in list(pending.items()):
            if claim_id not in held:  # recorded by its run (launched), finished, or taken over
                del pending[claim_id]
                continue
            poll = getattr(child, "poll", None)
            code = poll() if callable(poll) else None
            if code is not None:  # the run's process ended without recording itself
                log.warning("pipeline run for %s %s exited with %s before it started", what, claim_id, code)
                finish(claim_id, self.owner, "failed")
                del pending[claim_id]

    _FAILED = object()

    def _start(self, args: list[str]) -> Any:
        """What the launcher returned for ``args``, or ``_FAILED`` (logged) when it raised."""
        try:
            return self.launcher(args)
        except Exception:
            log.exception("could not launch %s", args)
            return self._FAILED

    def credentials(self) -> dict[str, str]:
        """With auth on, the environment that lets a run report as ``pipeline_run_as``: a token made for this
        launch (a day long, in the audit trail), and no other credentials of the server's environment."""
        settings = self.service.settings
        if not settings.auth:
            return {}
        if not settings.pipeline_run_as:
            if not self._warned:
                log.warning("the server authenticates but MODELYARD_PIPELINE_RUN_AS is not set: scheduled and triggered"
                            " pipeline runs cannot report to it (set it to a service account with EDIT on their"
                            " experiments)")
                self._warned = True
            return {}
        secret, _ = self.service.auth.create_token(settings.pipeline_run_as, "scheduled pipeline run", 1.0)
        return {"MODELYARD_TRACKING_TOKEN": secret}

    def _popen(self, args: list[str]) -> Any:
        out = tempfile.NamedTemporaryFile(prefix="modelyard-pipeline-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        token = self.credentials()
        if token:
            env = {k: v for k, v in env.items() if k not in CREDENTIALS} | token
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        out.close()
        self.children.append(child)
        return child

    def watching(self) -> bool:
        """Whether the next pass comes after :attr:`interval` (something is active) or :attr:`idle_interval`.

        Active: a claim this scheduler holds until its run records itself, or any
        schedule or trigger that is not paused.
        """
        if self.pending or self.pending_events:
            return True
        svc = self.service.pipelines
        return any(not s["paused"] for s in svc.list_schedules()) or any(not t["paused"] for t in svc.list_triggers())

    def _pass(self) -> bool:
        """One background pass: :meth:`tick`, then :meth:`watching`."""
        self.tick()
        return self.watching()

    def _on_change(self) -> None:  # any thread
        if self._event_loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping anyway
                self._event_loop.call_soon_threadsafe(self._wake.set)

    async def _loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()  # a change during the pass sets it again: the next pass follows at once
            try:
                active = await asyncio.to_thread(self._pass)
            except Exception:
                log.exception("scheduler pass failed")
                active = True  # retry soon
            self.passes += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval if active else self.idle_interval)

    def start(self) -> Scheduler:
        self._event_loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.service.pipelines.add_listener(self._on_change)
        self._task = self._event_loop.create_task(self._loop())
        return self

    async def stop(self) -> None:
        self._stopping = True
        self.service.pipelines.remove_listener(self._on_change)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # _loop logs its own errors
                await self._task


def start(service: Any) -> Scheduler:
    return Scheduler(service).start()

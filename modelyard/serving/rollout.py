"""The rollout a serve process follows: which requests the candidate version answers or shadows.

The tracking server stores one rollout per model and alias (``service/rollouts.py``). A process
serving ``models:/name@alias`` reads it as it reads the alias (every ``poll_interval`` and when
the registry's webhook calls), loads the candidate in the background (under the same trust
policy), then publishes a :class:`Plan` by replacing one reference, so a request sees either the
old plan or the new one, never half of each:

- ``shadow``: the stable version answers; the candidate scores a copy after the answer is sent,
  and its prediction goes to the request log (request id ``<id>:shadow``) and the metrics;
- ``canary``: the candidate answers a ``weight`` share of requests; the share is chosen by a
  hash of the caller's ``x-caller-key`` header (sticky: one caller always sees one variant), else
  of the request id;
- ``all``: the candidate answers every request until the alias moves to it.

A rollout that is rolled back, completed, or whose stable version is no longer what this process
serves, publishes no plan: the process answers with its alias's version, as without a rollout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResourceDoesNotExist
from .holder import ModelHolder
from .model import LoadedModel, load, resolve

log = logging.getLogger("modelyard.serving")

__all__ = ["Plan", "RolloutFollower", "bucket"]


def bucket(key: str) -> float:
    """A stable number in [0, 1) for ``key``: the same caller lands in the same variant."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2.0**64


@dataclass(frozen=True)
class Plan:
    stable_version: str
    candidate: LoadedModel
    mode: str
    weight: float

    def route(self, stable: LoadedModel, key: str) -> tuple[LoadedModel, LoadedModel | None]:
        """The model that answers, and the one that shadows it (or None)."""
        if stable.version != self.stable_version:
            return stable, None
        if self.mode == "all" or (self.mode == "canary" and bucket(key) < self.weight):
            return self.candidate, None
        if self.mode == "shadow":
            return stable, self.candidate
        return stable, None


@dataclass
class RolloutFollower:
    holder: ModelHolder
    alias: str
    plan: Plan | None = None
    last: dict[str, Any] | None = None
    last_error: str | None = None
    answered: dict[str, int] = field(default_factory=dict)  # per version: requests answered, shadows included
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: bool = False

    def refresh(self) -> None:
        """Read the stored rollout; load its candidate if new; publish the plan."""
        with self._lock:
            stable = self.holder.current
            if stable is None:
                return
            try:
                r = self.holder.client.get_rollout(stable.name, self.alias)
            except ResourceDoesNotExist:
                r = None
            except Exception as exc:  # noqa: BLE001 - keep the plan we have, say why
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("could not read the rollout of %s@%s: %s", stable.name, self.alias, self.last_error)
                return
            self.last = r
            if r is None or r["state"] != "running" or r["stable_version"] != stable.version:
                self.plan = None
                return
            candidate = self.plan.candidate if self.plan is not None else None
            if candidate is None or candidate.version != str(r["candidate_version"]):
                try:
                    target = resolve(f"models:/{stable.name}/{r['candidate_version']}", self.holder.client, stable.name)
                    candidate = load(target, self.holder.client, self.holder.trust)
                except Exception as exc:  # noqa: BLE001 - no candidate, no plan: the stable version answers
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("could not load rollout candidate %s: %s", r["candidate_version"], self.last_error)
                    self.plan = None
                    return
            self.plan = Plan(stable.version, candidate, r["mode"], float(r["weight"]))
            self.last_error = None

    async def refresh_soon(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.refresh)
        finally:
            self._running = False

    async def poll(self, interval: float) -> None:
        while True:
            await self.refresh_soon()
            await asyncio.sleep(interval)

    def count(self, version: str) -> None:
        self.answered[version] = self.answered.get(version, 0) + 1

    def describe(self) -> dict[str, Any]:
        p = self.plan
        return {"alias": self.alias, "stored": self.last, "last_error": self.last_error, "answered": dict(self.answered),
                "active": None if p is None else {"stable_version": p.stable_version,
                                                  "candidate_version": p.candidate.version, "mode": p.mode,
                                                  "weight": p.weight}}

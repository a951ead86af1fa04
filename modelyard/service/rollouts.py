"""Rollouts: a promoted version takes an alias's traffic gradually, in every serve process.

A rollout is a stored object per model and alias: the ``stable`` version (where the alias
points), the ``candidate``, a ``mode`` and the candidate's ``weight``:

- ``shadow``: the candidate scores a copy of the traffic; its answers are logged, not returned;
- ``canary``: the candidate answers a ``weight`` share of requests, sticky per caller key;
- ``all``: the candidate answers every request (the alias has not moved yet).

Serve processes read it as they read aliases (``modelyard.serving.rollout``). ``complete`` moves
the alias to the candidate (its gates passed: a rollout starts only from a passed promotion when
the alias has a policy, so it is no way around the gates); ``rollback`` leaves the alias and
drops the candidate. ``step`` applies the rollout's rule to live monitoring metrics: the rule's
monitor runs now; when ``metric op threshold`` holds the rollout rolls back, otherwise the weight
advances to its next step, and after the last step the rollout completes.

>>> svc.rollouts.start("bikes", "champion", "3", mode="canary", weight=0.1,
...                    rule={"monitor": "bikes-v3", "metric": "mae", "op": ">", "threshold": 40,
...                          "steps": [0.1, 0.5, 1.0]})
>>> svc.rollouts.step("bikes", "champion")["action"]
'advance'
"""

from __future__ import annotations

from typing import Any

from ..entities.promotion import Rollout
from ..errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from ..store import TrackingStore
from .experiments import now_ms
from .registry import _who, check_alias, check_version

__all__ = ["MODES", "RolloutService"]

MODES = ("shadow", "canary", "all")
_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def check_weight(weight: Any) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise InvalidParameterValue(f"weight: {weight!r}; give the candidate's share of traffic, from 0 to 1.")
    return float(weight)


def check_rule(rule: Any) -> dict[str, Any] | None:
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise InvalidParameterValue("rule: give {monitor, metric, op, threshold, steps}.")
    unknown = set(rule) - {"monitor", "metric", "op", "threshold", "steps"}
    if unknown:
        raise InvalidParameterValue(f"rule: unknown keys {sorted(unknown)}; a rule has monitor, metric, op, threshold,"
                                    " steps.")
    for key in ("monitor", "metric"):
        if not isinstance(rule.get(key), str) or not rule[key]:
            raise InvalidParameterValue(f"rule.{key}: {rule.get(key)!r}; name the {key}.")
    if rule.get("op") not in _OPS:
        raise InvalidParameterValue(f"rule.op: {rule.get('op')!r}; use one of {', '.join(_OPS)}.")
    threshold = rule.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise InvalidParameterValue(f"rule.threshold: {threshold!r}; give a number.")
    steps = rule.get("steps", [0.1, 0.5, 1.0])
    if not isinstance(steps, list) or not steps or any(check_weight(s) <= 0 for s in steps) or steps != sorted(steps):
        raise InvalidParameterValue(f"rule.steps: {steps!r}; give increasing weights above 0, e.g. [0.1, 0.5, 1.0].")
    return {**rule, "steps": [float(s) for s in steps]}


class RolloutService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.svc = service

    @property
    def _p(self):  # type: ignore[no-untyped-def]
        return self.store.promotion

    def get(self, name: str, alias: str) -> Rollout:
        found = self._p.get_rollout(name, alias)
        if found is None:
            raise ResourceDoesNotExist(f"Registered model {name!r} has no rollout of alias {alias!r}.")
        return found  # type: ignore[no-any-return]

    def list(self, name: str | None = None) -> list[Rollout]:
        return self._p.list_rollouts(name or None)  # type: ignore[no-any-return]

    def start(self, name: str, alias: str, candidate: str | int, mode: str = "canary", weight: float = 0.1,
              rule: dict[str, Any] | None = None, *, gated: bool = False) -> Rollout:
        """Start (or restart) rolling ``candidate`` out on ``alias``. ``gated``: called by a passed promotion."""
        check_alias(alias, setting=True)
        mv = self.svc.registry.get_model_version(name, check_version(candidate))
        if mode not in MODES:
            raise InvalidParameterValue(f"mode: {mode!r}; use one of {', '.join(MODES)}.")
        weight, rule = check_weight(weight), check_rule(rule)
        stable = self.store.registry.version_by_alias(name, alias)
        if stable is None:
            raise InvalidState(f"Alias {alias!r} of {name!r} points at no version: promote one first, then roll out.")
        if stable.version == mv.version:
            raise InvalidState(f"Alias {alias!r} of {name!r} already points at version {mv.version}.")
        current = self._p.get_rollout(name, alias)
        if current is not None and current.state == "running" and current.candidate_version != mv.version:
            raise InvalidState(f"Version {current.candidate_version} is being rolled out on {alias!r}; complete or"
                               " roll it back first.")
        if not gated and self._p.get_policy(name, alias) is not None:
            passed = [p for p in self._p.list_promotions(name, int(mv.version), 100)
                      if p.alias == alias and p.status == "passed"]
            if not passed:
                raise InvalidState(
                    f"Version {mv.version} has not passed the gates of {alias!r}: roll it out with"
                    f" `modelyard promote {name} --version {mv.version} --to {alias} --rollout canary`.")
        now = now_ms()
        r = Rollout(name, alias, stable.version, mv.version, mode, weight, "running", {"rule": rule}, now, now, _who())
        self._p.set_rollout(r, "start")
        return r

    def update(self, name: str, alias: str, mode: str | None = None, weight: float | None = None) -> Rollout:
        r = self._running(name, alias)
        if mode is not None:
            if mode not in MODES:
                raise InvalidParameterValue(f"mode: {mode!r}; use one of {', '.join(MODES)}.")
            r.mode = mode
        if weight is not None:
            r.weight = check_weight(weight)
        r.updated_ms, r.updated_by = now_ms(), _who()
        self._p.set_rollout(r, "update")
        return r

    def rollback(self, name: str, alias: str, reason: str = "") -> Rollout:
        r = self._running(name, alias)
        r.state, r.weight, r.updated_ms, r.updated_by = "rolled_back", 0.0, now_ms(), _who()
        r.spec = {**r.spec, "reason": reason or None}
        self._p.set_rollout(r, "rollback")
        return r

    def complete(self, name: str, alias: str) -> Rollout:
        """Move the alias to the candidate and end the rollout, in one unit of work."""
        r = self._running(name, alias)
        who, now = _who(), now_ms()
        with self.svc.unit_of_work():
            current = self.store.registry.version_by_alias(name, alias)
            if current is None or current.version != r.stable_version:
                raise InvalidState(f"Alias {alias!r} moved to {current and current.version} during the rollout; roll"
                                   " it back.")
            # The rollout started from passed gates (see start), so the protected alias may move here.
            self.store.registry.set_alias(name, alias, int(r.candidate_version), who, now)
            r.state, r.mode, r.weight, r.updated_ms, r.updated_by = "completed", "all", 1.0, now, who
            self._p.set_rollout(r, "complete")
        return r

    def step(self, name: str, alias: str) -> dict[str, Any]:
        """Apply the rollout's rule to its monitor's metric now: roll back, advance, or complete."""
        r = self._running(name, alias)
        rule = r.spec.get("rule")
        if not rule:
            raise InvalidState(f"The rollout of {name}@{alias} has no rule; advance it with mode/weight instead.")
        result = self.svc.monitoring.run_monitor(rule["monitor"])
        value = result.metrics.get(rule["metric"])
        breached = value is not None and _OPS[rule["op"]](value, rule["threshold"])
        if breached:
            reason = f"{rule['metric']} = {value:g} {rule['op']} {rule['threshold']:g}"
            return {"action": "rollback", "value": value, "rollout": self.rollback(name, alias, reason).to_dict()}
        later = [s for s in rule["steps"] if s > r.weight + 1e-9]
        if not later or r.mode == "all":
            return {"action": "complete", "value": value, "rollout": self.complete(name, alias).to_dict()}
        mode = "all" if later[0] >= 1.0 else "canary"
        return {"action": "advance", "value": value, "rollout": self.update(name, alias, mode, later[0]).to_dict()}

    def _running(self, name: str, alias: str) -> Rollout:
        r = self.get(name, alias)
        if r.state != "running":
            raise InvalidState(f"The rollout of {name}@{alias} is {r.state}; start a new one.")
        return r

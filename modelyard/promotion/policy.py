"""Promotion policies as code: which gates a version must pass to take an alias of a model.

A policy is a mapping (written in YAML or Python, registered on the server with
``modelyard promote policy set`` or ``Client.set_promotion_policy``)::

    model: bikes            # optional in the file; the registered model
    alias: champion         # optional in the file; the alias it guards
    gates:
      - check: required_tags
        tags: [team, data_version]
      - check: description
      - check: signature
      - check: input_example
      - check: metric_threshold
        metric: rmse
        op: "<="
        threshold: 60
      - check: challenger           # against the alias's current version, else the baseline
        dataset: runs:/<run_id>/eval.csv
        target: cnt
        metric: rmse                # rmse, mse, mae (paired bootstrap) or accuracy (McNemar)
        min_effect: 1.0
        baseline: 150               # the metric to beat when the alias points nowhere yet
      - check: budget               # measured by loading and scoring the model in a worker process
        max_latency_ms: 50
        max_size_mb: 20
      - check: data_quality         # the version's training data against a monitoring profile
        data: train.csv             # an artifact of the version's run
      - check: approval
        approvers: [alice]          # besides everyone with MANAGE on the model
        min_approvals: 1
      - check: evaluation           # a prompt version: its newest evaluation run's score
        metric: relevance/mean      # a metric of my.tracing.evaluate(..., prompts=[version])
        op: ">="
        threshold: 0.8
        dataset_id: d-123           # optional: only evaluations on this dataset

:func:`check_policy` validates one and returns it normalised, each gate with its defaults and a
unique ``name``; a bad field is a 400 naming it (``gates[3].threshold``) and what would do.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidParameterValue
from .stats import METRICS

__all__ = ["CHECKS", "OPS", "check_policy", "load_policy"]

OPS = ("<", "<=", ">", ">=")
MAX_GATES = 50

# Each check: its parameters and their defaults (REQUIRED: must be given).
REQUIRED = object()
CHECKS: dict[str, dict[str, Any]] = {
    "required_tags": {"tags": REQUIRED},
    "description": {"min_length": 1},
    "signature": {},
    "input_example": {},
    "metric_threshold": {"metric": REQUIRED, "op": REQUIRED, "threshold": REQUIRED},
    "challenger": {"dataset": REQUIRED, "target": REQUIRED, "metric": REQUIRED, "min_effect": 0.0, "alpha": 0.05,
                   "baseline": None, "n_boot": 1000, "max_rows": 100_000, "seed": 0},
    "budget": {"max_latency_ms": None, "max_size_mb": None, "rows": 100, "repeats": 20, "dataset": None,
               "timeout_s": 300},
    "data_quality": {"data": REQUIRED, "reference": "champion", "limits": None},
    "approval": {"approvers": [], "min_approvals": 1, "allow_self_approval": False},
    "evaluation": {"metric": REQUIRED, "op": ">=", "threshold": REQUIRED, "dataset_id": None,
                   "experiment_ids": None},
}


def load_policy(text: str) -> dict[str, Any]:
    """A policy from YAML (or JSON) text."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParameterValue(f"policy: not valid YAML ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidParameterValue("policy: give a mapping with a 'gates' list.")
    return data


def _bad(where: str, value: Any, fix: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"policy.{where}: {value!r} is not valid; {fix}.")


def _number(where: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(where, value, "give a number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise _bad(where, value, f"give a number between {low} and {high}")
    return float(value)


def _int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(where, value, f"give a whole number from {low} to {high}")
    return value


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(where, value, "give a non-empty string")
    return value


def _strings(where: str, value: Any, empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (not value and not empty) or not all(isinstance(v, str) and v for v in value):
        raise _bad(where, value, "give a list of names")
    return list(value)


def check_policy(policy: Any, model_name: str | None = None, alias: str | None = None) -> dict[str, Any]:
    """``policy`` validated and normalised (see the module's docstring)."""
    if not isinstance(policy, dict):
        raise InvalidParameterValue("policy: give a mapping with a 'gates' list.")
    unknown = set(policy) - {"gates", "description", "model", "alias"}
    if unknown:
        raise InvalidParameterValue(f"policy: unknown keys {sorted(unknown)}; a policy has 'gates' and 'description'.")
    for key, expected in (("model", model_name), ("alias", alias)):
        if policy.get(key) is not None and expected is not None and policy[key] != expected:
            raise InvalidParameterValue(
                f"policy.{key}: the file says {policy[key]!r} but it is being set for {expected!r}; fix one of them.")
    gates = policy.get("gates")
    if not isinstance(gates, list) or not gates:
        raise InvalidParameterValue("policy.gates: give a non-empty list of checks, e.g. [{check: signature}].")
    if len(gates) > MAX_GATES:
        raise InvalidParameterValue(f"policy.gates: {len(gates)} checks; at most {MAX_GATES}.")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, gate in enumerate(gates):
        g = _gate(f"gates[{i}]", gate)
        if g["name"] in names:
            raise InvalidParameterValue(f"policy.gates[{i}].name: {g['name']!r} is used twice; name each gate once.")
        names.add(g["name"])
        out.append(g)
    checked: dict[str, Any] = {"gates": out}
    if policy.get("description") is not None:
        checked["description"] = str(policy["description"])
    return checked


def _gate(where: str, gate: Any) -> dict[str, Any]:
    if isinstance(gate, str):
        gate = {"check": gate}
    if not isinstance(gate, dict):
        raise _bad(where, gate, "give a mapping like {check: signature}")
    check = gate.get("check")
    if check not in CHECKS:
        raise _bad(f"{where}.check", check, f"use one of {', '.join(CHECKS)}")
    params = CHECKS[check]
    unknown = set(gate) - set(params) - {"check", "name"}
    if unknown:
        raise InvalidParameterValue(
            f"policy.{where}: unknown parameters {sorted(unknown)} for check {check!r}; it takes {sorted(params) or 'none'}.")
    g: dict[str, Any] = {"check": check, "name": _str(f"{where}.name", gate.get("name", check))}
    for key, default in params.items():
        if key not in gate or gate[key] is None:
            if default is REQUIRED:
                raise InvalidParameterValue(f"policy.{where}.{key}: missing; check {check!r} needs it.")
            g[key] = default
        else:
            g[key] = gate[key]
    _validate(where, g)
    return g


def _validate(where: str, g: dict[str, Any]) -> None:  # noqa: C901 - one branch per check
    check = g["check"]
    if check == "required_tags":
        g["tags"] = _strings(f"{where}.tags", g["tags"])
    elif check == "description":
        g["min_length"] = _int(f"{where}.min_length", g["min_length"], 1, 100_000)
    elif check == "metric_threshold":
        _str(f"{where}.metric", g["metric"])
        if g["op"] not in OPS:
            raise _bad(f"{where}.op", g["op"], f"use one of {', '.join(OPS)}")
        g["threshold"] = _number(f"{where}.threshold", g["threshold"])
    elif check == "evaluation":
        _str(f"{where}.metric", g["metric"])
        if g["op"] not in OPS:
            raise _bad(f"{where}.op", g["op"], f"use one of {', '.join(OPS)}")
        g["threshold"] = _number(f"{where}.threshold", g["threshold"])
        if g["dataset_id"] is not None:
            _str(f"{where}.dataset_id", g["dataset_id"])
        if g["experiment_ids"] is not None:
            g["experiment_ids"] = [str(e) for e in _strings(f"{where}.experiment_ids", g["experiment_ids"])]
    elif check == "challenger":
        _str(f"{where}.dataset", g["dataset"])
        _str(f"{where}.target", g["target"])
        if g["metric"] not in METRICS:
            raise _bad(f"{where}.metric", g["metric"], f"use one of {', '.join(METRICS)}")
        g["min_effect"] = _number(f"{where}.min_effect", g["min_effect"], 0, None)
        g["alpha"] = _number(f"{where}.alpha", g["alpha"], 1e-6, 0.5)
        if g["baseline"] is not None:
            g["baseline"] = _number(f"{where}.baseline", g["baseline"])
        g["n_boot"] = _int(f"{where}.n_boot", g["n_boot"], 100, 20_000)
        g["max_rows"] = _int(f"{where}.max_rows", g["max_rows"], 10, 1_000_000)
        g["seed"] = _int(f"{where}.seed", g["seed"], 0, 2**31)
    elif check == "budget":
        if g["max_latency_ms"] is None and g["max_size_mb"] is None:
            raise InvalidParameterValue(f"policy.{where}: give max_latency_ms, max_size_mb or both.")
        for key in ("max_latency_ms", "max_size_mb"):
            if g[key] is not None:
                g[key] = _number(f"{where}.{key}", g[key], 0, None)
        g["rows"] = _int(f"{where}.rows", g["rows"], 1, 100_000)
        g["repeats"] = _int(f"{where}.repeats", g["repeats"], 1, 1000)
        g["timeout_s"] = _int(f"{where}.timeout_s", g["timeout_s"], 1, 3600)
        if g["dataset"] is not None:
            _str(f"{where}.dataset", g["dataset"])
    elif check == "data_quality":
        _str(f"{where}.data", g["data"])
        if g["reference"] not in ("champion", "self"):
            raise _bad(f"{where}.reference", g["reference"], "use 'champion' (the alias's version's profile) or 'self'")
        if g["limits"] is not None and not isinstance(g["limits"], dict):
            raise _bad(f"{where}.limits", g["limits"], "give a mapping of check to share, e.g. {missing_rate: 0.1}")
    elif check == "approval":
        g["approvers"] = _strings(f"{where}.approvers", g["approvers"], empty=True)
        g["min_approvals"] = _int(f"{where}.min_approvals", g["min_approvals"], 1, 20)
        if not isinstance(g["allow_self_approval"], bool):
            raise _bad(f"{where}.allow_self_approval", g["allow_self_approval"], "give true or false")

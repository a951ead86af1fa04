"""Promotion's entities: a gate run (promotion), a transition request, a rollout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Promotion", "Rollout", "TransitionRequest"]


@dataclass(slots=True)
class Promotion:
    id: int
    model_name: str
    version: int
    alias: str
    status: str
    champion_version: int | None
    checks: list[dict[str, Any]]
    policy: dict[str, Any]
    request_id: int | None
    user_id: str | None
    created_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "model_name": self.model_name, "version": str(self.version), "alias": self.alias,
                "status": self.status, "passed": self.status == "passed",
                "champion_version": None if self.champion_version is None else str(self.champion_version),
                "checks": self.checks, "request_id": None if self.request_id is None else str(self.request_id),
                "user_id": self.user_id, "created_ms": self.created_ms}


@dataclass(slots=True)
class TransitionRequest:
    id: int
    model_name: str
    version: int
    alias: str
    status: str
    requested_by: str | None
    created_ms: int
    updated_ms: int
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "model_name": self.model_name, "version": str(self.version), "alias": self.alias,
                "status": self.status, "requested_by": self.requested_by, "created_ms": self.created_ms,
                "updated_ms": self.updated_ms, "events": self.events}

    def approvers(self) -> list[str]:
        """Who approved (since the last rejection), in order, once each."""
        out: list[str] = []
        for e in self.events:
            if e["action"] == "reject":
                out = []
            elif e["action"] == "approve" and e["user_id"] not in out:
                out.append(e["user_id"])
        return out


@dataclass(slots=True)
class Rollout:
    model_name: str
    alias: str
    stable_version: str
    candidate_version: str
    mode: str
    weight: float
    state: str
    spec: dict[str, Any]
    created_ms: int
    updated_ms: int
    updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "alias": self.alias, "stable_version": self.stable_version,
                "candidate_version": self.candidate_version, "mode": self.mode, "weight": self.weight,
                "state": self.state, "rule": self.spec.get("rule"), "created_ms": self.created_ms,
                "updated_ms": self.updated_ms, "updated_by": self.updated_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rollout:
        return cls(d["model_name"], d["alias"], str(d["stable_version"]), str(d["candidate_version"]), d["mode"],
                   float(d["weight"]), d["state"], {"rule": d.get("rule")}, int(d.get("created_ms") or 0),
                   int(d.get("updated_ms") or 0), d.get("updated_by"))

"""Plain data types of registry webhooks, shaped like MLflow 3's (``webhooks.proto``).

``to_dict`` gives the REST JSON shape; ``from_dict`` reads it back. Events are
``"entity.action"`` strings (``"model_version.created"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXTENSION_EVENTS", "MLFLOW_EVENTS", "Webhook", "WebhookDelivery", "WebhookTestResult"]

# MLflow 3's events (webhooks.proto), and ours that MLflow's enums cannot carry.
MLFLOW_EVENTS = (
    "registered_model.created", "model_version.created", "model_version_tag.set", "model_version_tag.deleted",
    "model_version_alias.created", "model_version_alias.deleted", "prompt.created", "prompt_version.created",
    "prompt_tag.set", "prompt_tag.deleted", "prompt_version_tag.set", "prompt_version_tag.deleted",
    "prompt_alias.created", "prompt_alias.deleted", "budget_policy.exceeded",
)
EXTENSION_EVENTS = (
    "model_version.stage_changed", "monitor_alert.fired", "promotion.passed", "promotion.failed",
    "transition_request.created", "transition_request.commented", "transition_request.approved",
    "transition_request.rejected", "transition_request.cancelled", "transition_request.promoted", "rollout.updated",
)


@dataclass(slots=True)
class Webhook:
    """A subscription: POST these ``events`` (``"model_version.created"``…) to ``url``. The secret is never read back."""

    webhook_id: str
    name: str
    url: str
    events: list[str]
    description: str | None = None
    status: str = "ACTIVE"
    creation_timestamp: int = 0
    last_updated_timestamp: int = 0

    def to_dict(self) -> dict[str, Any]:
        """MLflow's ``Webhook`` JSON; ``event_names`` (ours) also lists events MLflow's enums cannot carry."""
        d: dict[str, Any] = {"webhook_id": self.webhook_id, "name": self.name, "url": self.url}
        if self.description is not None:
            d["description"] = self.description
        d["events"] = [{"entity": e.split(".")[0].upper(), "action": e.split(".")[1].upper()}
                       for e in self.events if e in MLFLOW_EVENTS]
        d["event_names"] = list(self.events)
        d["status"] = self.status
        d["creation_timestamp"] = self.creation_timestamp
        d["last_updated_timestamp"] = self.last_updated_timestamp
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Webhook:
        events = d.get("event_names") or [f"{e['entity']}.{e['action']}".lower() for e in d.get("events", [])]
        return cls(d["webhook_id"], d["name"], d["url"], list(events), d.get("description"),
                   d.get("status", "ACTIVE"), int(d.get("creation_timestamp", 0)),
                   int(d.get("last_updated_timestamp", 0)))


@dataclass(slots=True)
class WebhookDelivery:
    """One event sent (or being sent) to one webhook, with its latest outcome."""

    delivery_id: str
    webhook_id: str
    event: str
    status: str
    attempts: int
    created_timestamp: int
    next_attempt_timestamp: int | None = None
    last_attempt_timestamp: int | None = None
    delivered_timestamp: int | None = None
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key in self.__slots__:
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WebhookDelivery:
        kw: dict[str, Any] = {k: d.get(k) for k in cls.__slots__ if k in d}
        return cls(**kw)


@dataclass(slots=True)
class WebhookTestResult:
    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WebhookTestResult:
        return cls(bool(d.get("success", False)), d.get("response_status"), d.get("response_body"),
                   d.get("error_message"))

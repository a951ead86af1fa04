"""MLflow 3 logged models as plain data, shaped like MLflow's entities.

``to_dict`` gives the MLflow REST JSON shape (``{"info": ..., "data": ...}``);
``from_dict`` reads it back. A status is stored and handled as ``PENDING``,
``READY`` or ``FAILED`` and travels as ``LOGGED_MODEL_PENDING``,
``LOGGED_MODEL_READY`` or ``LOGGED_MODEL_UPLOAD_FAILED``, as protobuf JSON
writes MLflow's enum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import InvalidParameterValue
from . import LifecycleStage, Metric, decode_float, encode_float


class LoggedModelStatus:
    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    ALL = (UNSPECIFIED, PENDING, READY, FAILED)
    FINAL = (READY, FAILED)

    _WIRE: ClassVar[dict[str, str]] = {
        UNSPECIFIED: "LOGGED_MODEL_STATUS_UNSPECIFIED",
        PENDING: "LOGGED_MODEL_PENDING",
        READY: "LOGGED_MODEL_READY",
        FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
    }
    _NUMBERS: ClassVar[dict[int, str]] = {0: UNSPECIFIED, 1: PENDING, 2: READY, 3: FAILED}

    @classmethod
    def to_wire(cls, status: str) -> str:
        return cls._WIRE.get(status, cls._WIRE[cls.UNSPECIFIED])

    @classmethod
    def parse(cls, value: Any) -> str:
        """``READY`` from ``"LOGGED_MODEL_READY"``, ``"READY"``, ``2`` or ``"2"``."""
        if isinstance(value, bool):
            value = None
        elif isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            value = cls._NUMBERS.get(int(value))
        elif isinstance(value, str):
            upper = value.upper()
            by_wire = {w: s for s, w in cls._WIRE.items()}
            value = by_wire.get(upper) or {"UPLOAD_FAILED": cls.FAILED}.get(upper, upper)
        if value not in cls.ALL:
            raise InvalidParameterValue(
                "Invalid logged model status: use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED "
                "(or LOGGED_MODEL_PENDING)."
            )
        return value  # type: ignore[no-any-return]


def metric_to_dict(m: Metric) -> dict[str, Any]:
    """A metric with MLflow 3's optional fields (model, dataset, run)."""
    d: dict[str, Any] = {"key": m.key, "value": encode_float(m.value), "timestamp": m.timestamp, "step": m.step}
    for name in ("dataset_name", "dataset_digest", "model_id", "run_id"):
        value = getattr(m, name)
        if value is not None:
            d[name] = value
    return d


def metric_from_dict(d: dict[str, Any]) -> Metric:
    return Metric(
        key=d["key"],
        value=decode_float(d.get("value", 0.0)),
        timestamp=int(d.get("timestamp", 0)),
        step=int(d.get("step", 0)),
        run_id=d.get("run_id"),
        model_id=d.get("model_id"),
        dataset_name=d.get("dataset_name"),
        dataset_digest=d.get("dataset_digest"),
    )


@dataclass(slots=True)
class LoggedModel:
    """A model logged to an experiment, with its artifacts under ``artifact_location``."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = LoggedModelStatus.PENDING
    lifecycle_stage: str = LifecycleStage.ACTIVE
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model_id": self.model_id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "creation_timestamp_ms": self.creation_timestamp,
            "last_updated_timestamp_ms": self.last_updated_timestamp,
            "artifact_uri": self.artifact_location,
            "status": LoggedModelStatus.to_wire(self.status),
        }
        for key in ("model_type", "source_run_id", "status_message"):
            value = getattr(self, key)
            if value is not None:
                info[key] = value
        if self.tags:
            info["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        data: dict[str, Any] = {}
        if self.params:
            data["params"] = [{"key": k, "value": v} for k, v in self.params.items()]
        if self.metrics:
            data["metrics"] = [metric_to_dict(m) for m in self.metrics]
        return {"info": info, "data": data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModel:
        info, data = d.get("info", {}), d.get("data", {})
        return cls(
            model_id=info["model_id"],
            experiment_id=str(info.get("experiment_id", "")),
            name=info.get("name", ""),
            artifact_location=info.get("artifact_uri", ""),
            creation_timestamp=int(info.get("creation_timestamp_ms", 0)),
            last_updated_timestamp=int(info.get("last_updated_timestamp_ms", 0)),
            status=LoggedModelStatus.parse(info.get("status", "LOGGED_MODEL_STATUS_UNSPECIFIED")),
            model_type=info.get("model_type"),
            source_run_id=info.get("source_run_id"),
            status_message=info.get("status_message"),
            tags={t["key"]: t.get("value", "") for t in info.get("tags", [])},
            params={p["key"]: p.get("value", "") for p in data.get("params", [])},
            metrics=[metric_from_dict(m) for m in data.get("metrics", [])],
        )


@dataclass(slots=True)
class LoggedModelOutput:
    """A model a run produced, at ``step``."""

    model_id: str
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "step": self.step}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModelOutput:
        return cls(d["model_id"], int(d.get("step", 0)))

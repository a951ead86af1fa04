"""Plain data types of modelyard, shaped like MLflow's entities.

``to_dict`` gives the MLflow REST JSON shape; ``from_dict`` reads it back.
Non-finite metric values travel as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``, as protobuf JSON (and so MLflow) writes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def encode_float(value: float) -> float | str:
    """A float as MLflow's JSON writes it: finite as is, else a string."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_float(value: Any) -> float:
    """Read a float written by :func:`encode_float` (or a plain number)."""
    if isinstance(value, str):
        return float(value)  # float() accepts "NaN", "Infinity", "-Infinity"
    return float(value)


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINATED = (FINISHED, FAILED, KILLED)


class ViewType:
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    @staticmethod
    def stages(view_type: str) -> tuple[str, ...]:
        if view_type == ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if view_type == ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


def _kv_list(items: list[Any]) -> list[dict[str, Any]]:
    return [item.to_dict() for item in items]


@dataclass(slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "key": self.key,
            "value": encode_float(self.value),
            "timestamp": self.timestamp,
            "step": self.step,
        }
        if self.run_id is not None:
            d["run_id"] = self.run_id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(
            key=d["key"],
            value=decode_float(d.get("value", 0.0)),
            timestamp=int(d.get("timestamp", 0)),
            step=int(d.get("step", 0)),
            run_id=d.get("run_id"),
        )


@dataclass(slots=True)
class Param:
    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Param:
        return cls(d["key"], d.get("value", ""))


@dataclass(slots=True)
class RunTag:
    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunTag:
        return cls(d["key"], d.get("value", ""))


ExperimentTag = RunTag


@dataclass(slots=True)
class InputTag:
    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputTag:
        return cls(d["key"], d.get("value", ""))


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
        }
        if self.schema is not None:
            d["schema"] = self.schema
        if self.profile is not None:
            d["profile"] = self.profile
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        return cls(
            name=d["name"],
            digest=d["digest"],
            source_type=d.get("source_type", ""),
            source=d.get("source", ""),
            schema=d.get("schema"),
            profile=d.get("profile"),
        )


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dataset": self.dataset.to_dict()}
        if self.tags:
            d["tags"] = _kv_list(self.tags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInput:
        return cls(
            dataset=Dataset.from_dict(d["dataset"]),
            tags=[InputTag.from_dict(t) for t in d.get("tags", [])],
        )


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "artifact_location": self.artifact_location,
            "lifecycle_stage": self.lifecycle_stage,
        }
        if self.creation_time is not None:
            d["creation_time"] = self.creation_time
        if self.last_update_time is not None:
            d["last_update_time"] = self.last_update_time
        if self.tags:
            d["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Experiment:
        return cls(
            experiment_id=str(d["experiment_id"]),
            name=d.get("name", ""),
            artifact_location=d.get("artifact_location", ""),
            lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE),
            creation_time=_opt_int(d.get("creation_time")),
            last_update_time=_opt_int(d.get("last_update_time")),
            tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
        )


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "run_uuid": self.run_id,
            "run_id": self.run_id,
            "run_name": self.run_name,
            "experiment_id": self.experiment_id,
            "user_id": self.user_id,
            "status": self.status,
        }
        if self.start_time is not None:
            d["start_time"] = self.start_time
        if self.end_time is not None:
            d["end_time"] = self.end_time
        d["artifact_uri"] = self.artifact_uri
        d["lifecycle_stage"] = self.lifecycle_stage
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        return cls(
            run_id=d.get("run_id") or d["run_uuid"],
            experiment_id=str(d.get("experiment_id", "")),
            run_name=d.get("run_name", ""),
            user_id=d.get("user_id", ""),
            status=d.get("status", RunStatus.RUNNING),
            start_time=_opt_int(d.get("start_time")),
            end_time=_opt_int(d.get("end_time")),
            artifact_uri=d.get("artifact_uri", ""),
            lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE),
        )


@dataclass(slots=True)
class RunData:
    """Latest metric values, params and tags of a run, as mappings."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_objects: list[Metric] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.metric_objects:
            d["metrics"] = [m.to_dict() for m in self.metric_objects]
        if self.params:
            d["params"] = [{"key": k, "value": v} for k, v in self.params.items()]
        if self.tags:
            d["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunData:
        metrics = [Metric.from_dict(m) for m in d.get("metrics", [])]
        return cls(
            metrics={m.key: m.value for m in metrics},
            params={p["key"]: p.get("value", "") for p in d.get("params", [])},
            tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
            metric_objects=metrics,
        )


@dataclass(slots=True)
class LoggedModelInput:
    """A logged model a run used (MLflow 3's ``ModelInput``), by its ``m-...`` id."""

    model_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModelInput:
        return cls(d["model_id"])


@dataclass(slots=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[LoggedModelInput] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.dataset_inputs:
            d["dataset_inputs"] = _kv_list(self.dataset_inputs)
        if self.model_inputs:
            d["model_inputs"] = [m.to_dict() for m in self.model_inputs]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInputs:
        return cls([DatasetInput.from_dict(i) for i in d.get("dataset_inputs", [])],
                   [LoggedModelInput.from_dict(m) for m in d.get("model_inputs", [])])


@dataclass(slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info.to_dict(),
            "data": self.data.to_dict(),
            "inputs": self.inputs.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        return cls(
            info=RunInfo.from_dict(d["info"]),
            data=RunData.from_dict(d.get("data", {})),
            inputs=RunInputs.from_dict(d.get("inputs", {})),
        )


@dataclass(slots=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "is_dir": self.is_dir}
        if self.file_size is not None and not self.is_dir:
            d["file_size"] = self.file_size
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileInfo:
        return cls(d["path"], bool(d.get("is_dir", False)), _opt_int(d.get("file_size")))


class PagedList(list):  # type: ignore[type-arg]
    """One page of results: a ``list`` (iterate it, ``len`` it) with the next page's ``token``.

    Shaped as MLflow's ``PagedList``: ``token`` is None on the last page.
    ``.items`` (the page as a plain list) and ``.next_page_token`` are the
    same things under our older names.

    >>> page = PagedList(["a", "b"], "tok")
    >>> len(page), list(page), page.token
    (2, ['a', 'b'], 'tok')
    """

    def __init__(self, items: Iterable[Any] = (), token: str | None = None, *,
                 next_page_token: str | None = None) -> None:
        super().__init__(items)
        self.token = token if token is not None else next_page_token

    @property
    def items(self) -> list[Any]:
        return self

    @property
    def next_page_token(self) -> str | None:
        return self.token

    def to_list(self) -> list[Any]:
        return list(self)

    def __repr__(self) -> str:
        return f"PagedList({list.__repr__(self)}, token={self.token!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PagedList, (list(self), self.token))


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)

"""Plain data types of the inference log: one served request, joined with its label if known.

``to_dict`` gives the REST JSON shape (``label`` fields only once a label
arrived); ``from_dict`` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["InferenceRecord"]


@dataclass(frozen=True)
class InferenceRecord:
    """One served request: what came in, what went out, which version answered, and its label if known."""

    request_id: str
    model_name: str
    model_version: str
    timestamp_ms: int
    latency_ms: float
    inputs: Any
    outputs: Any
    label: Any = None
    label_timestamp_ms: int | None = None
    # {"classes": [...], "data": [[p, ...] per row]}: kept when the served model has predict_proba
    probabilities: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.label_timestamp_ms is None:
            del out["label"], out["label_timestamp_ms"]
        if self.probabilities is None:
            del out["probabilities"]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InferenceRecord:
        return cls(
            str(d["request_id"]), str(d["model_name"]), str(d["model_version"]), int(d["timestamp_ms"]),
            float(d["latency_ms"]), d.get("inputs"), d.get("outputs"), d.get("label"), d.get("label_timestamp_ms"),
            d.get("probabilities"),
        )

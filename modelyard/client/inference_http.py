"""Inference-log methods of the HTTP transport: the server's bulk endpoints under ``/api/2.0/modelyard``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..service.inference import InferenceRecord

_REQUESTS = "/api/2.0/modelyard/inference/requests"
_FEEDBACK = "/api/2.0/modelyard/inference/feedback"


class HttpInference:
    send: Callable[..., dict[str, Any]]

    def log_inference_requests(self, rows: Sequence[dict[str, Any]]) -> None:
        self.send("POST", _REQUESTS, {"requests": list(rows)})

    def log_inference_feedback(self, items: Sequence[dict[str, Any]]) -> None:
        self.send("POST", _FEEDBACK, {"feedback": list(items)})

    def search_inference_requests(
        self, model_name: str | None, model_version: str | None, start_time_ms: int | None,
        end_time_ms: int | None, max_results: int, offset: int,
    ) -> list[InferenceRecord]:
        params: dict[str, Any] = {"max_results": max_results, "offset": offset}
        for key, value in (("model_name", model_name), ("model_version", model_version),
                           ("start_time_ms", start_time_ms), ("end_time_ms", end_time_ms)):
            if value is not None:
                params[key] = value
        out = self.send("GET", _REQUESTS, params=params)
        return [InferenceRecord.from_dict(r) for r in out.get("requests", [])]

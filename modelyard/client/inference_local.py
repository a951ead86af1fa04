"""Inference-log methods of the in-process transport (they call the service)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..service.inference import InferenceRecord


class LocalInference:
    service: Any

    def log_inference_requests(self, rows: Sequence[dict[str, Any]]) -> None:
        self.service.inference.log_requests(rows)

    def log_inference_feedback(self, items: Sequence[dict[str, Any]]) -> None:
        self.service.inference.log_feedback(items)

    def search_inference_requests(
        self, model_name: str | None, model_version: str | None, start_time_ms: int | None,
        end_time_ms: int | None, max_results: int, offset: int,
    ) -> list[InferenceRecord]:
        return self.service.inference.search(  # type: ignore[no-any-return]
            model_name, model_version, start_time_ms, end_time_ms, max_results, offset
        )

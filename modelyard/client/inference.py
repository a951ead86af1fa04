"""Inference-log methods of ``Client``: served requests and feedback, written in bulk and read back.

>>> c = my.Client()
>>> c.log_inference_requests([{"request_id": "r1", "model_name": "churn", "model_version": "3",
...                            "latency_ms": 1.2, "inputs": {"age": [42]}, "outputs": [0]}])
>>> c.log_inference_feedback([{"request_id": "r1", "label": 1}])
>>> c.search_inference_requests("churn", "3")[0].label
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities.inference import InferenceRecord
from ..service.limits import MAX_ROWS_PER_CALL


class InferenceMethods:
    _t: Any

    def log_inference_requests(self, requests: Sequence[dict[str, Any]]) -> None:
        """Store served requests (``request_id``, ``model_name``, ``model_version``, ``timestamp_ms``,
        ``latency_ms``, ``inputs``, ``outputs``), any number, in as few calls as possible."""
        rows = list(requests)
        for start in range(0, len(rows), MAX_ROWS_PER_CALL):
            self._t.log_inference_requests(rows[start : start + MAX_ROWS_PER_CALL])

    def log_inference_feedback(self, feedback: Sequence[dict[str, Any]]) -> None:
        """Attach ground truth to served requests: ``[{"request_id": ..., "label": ...}, ...]``."""
        items = list(feedback)
        for start in range(0, len(items), MAX_ROWS_PER_CALL):
            self._t.log_inference_feedback(items[start : start + MAX_ROWS_PER_CALL])

    def search_inference_requests(
        self,
        model_name: str | None = None,
        model_version: str | int | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        max_results: int = 1000,
        offset: int = 0,
    ) -> list[InferenceRecord]:
        """Served requests of a model (newest first) with their labels, for monitoring."""
        version = None if model_version is None else str(model_version)
        return self._t.search_inference_requests(  # type: ignore[no-any-return]
            model_name, version, start_time_ms, end_time_ms, max_results, offset
        )

"""The request log: every answered prediction written to the tracking store, off the request path.

``put`` appends to a bounded in-memory queue (a deque append: no lock, no
wake-up); when the queue is full the entry is dropped and counted, so a slow or
unreachable store never slows a request. A background thread drains the queue
every ``flush_interval`` seconds (or sooner when a batch fills), turns entries
into rows (with the class probabilities of a model that has ``predict_proba``,
computed here, off the request path) and writes them through the SDK: directly into an embedded store, or
through the tracking server's bulk endpoint when the tracking URI is http(s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .inputs import Inputs
from .model import LoadedModel, inputs_jsonable, jsonable

log = logging.getLogger("modelyard.serving")

# (request id, time ms, model, inputs, predictions, latency ms)
Entry = tuple[str, int, LoadedModel, Inputs, Any, float]


class RequestLog:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        max_queue: int = 10_000,
        flush_interval: float = 0.5,
        max_rows_per_write: int = 2_000,
    ) -> None:
        self.client_factory = client_factory
        self.max_queue = max_queue
        self.flush_interval = flush_interval
        self.max_rows = max_rows_per_write
        self.queue: deque[Entry] = deque()
        self.dropped = 0
        self.written = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def put(self, entry: Entry) -> None:
        if len(self.queue) >= self.max_queue:
            self.dropped += 1
        else:
            self.queue.append(entry)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="modelyard-request-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.close()

    def counters(self) -> dict[str, float]:
        return {
            "modelyard_serving_request_log_written_total": self.written,
            "modelyard_serving_request_log_dropped_total": self.dropped,
            "modelyard_serving_request_log_failed_total": self.failed,
            "modelyard_serving_request_log_queue_depth": len(self.queue),
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            if len(self.queue) < self.max_rows:
                self._stop.wait(self.flush_interval)
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while self.queue:
            batch: list[Entry] = []
            while self.queue and len(batch) < self.max_rows:
                batch.append(self.queue.popleft())
            self._write(batch)

    def _write(self, batch: list[Entry]) -> None:
        try:
            rows = _rows(batch)
            if self._client is None:
                self._client = self.client_factory()
            for attempt in range(3):
                try:
                    self._client.log_inference_requests(rows)
                    break
                except Exception:  # noqa: BLE001 - retried, then counted as failed
                    if attempt == 2:
                        raise
                    time.sleep(0.2 * (attempt + 1))
            self.written += len(rows)
        except Exception as exc:  # noqa: BLE001 - the log must never take the server down
            self.failed += len(batch)
            log.warning("could not write %d request-log rows: %s", len(batch), exc)


def _rows(batch: list[Entry]) -> list[dict[str, Any]]:
    """The rows of a batch, with class probabilities where the model has ``predict_proba`` (one call per model)."""
    rows = [_row(e) for e in batch]
    by_model: dict[int, list[int]] = {}
    for i, entry in enumerate(batch):
        by_model.setdefault(id(entry[2]), []).append(i)
    for idx in by_model.values():
        model = batch[idx[0]][2]
        try:
            found = model.probabilities([batch[i][3] for i in idx])
        except Exception as exc:  # noqa: BLE001 - the predictions are logged either way
            log.debug("no class probabilities from %s: %s", model.target.name, exc)
            continue
        for i, probs in zip(idx, found, strict=True):
            if probs is not None:
                rows[i]["probabilities"] = probs
    return rows


def _row(entry: Entry) -> dict[str, Any]:
    request_id, ts, model, inputs, pred, latency = entry
    target = model.target
    return {
        "request_id": request_id,
        "model_name": target.name,
        "model_version": target.version,
        "timestamp_ms": ts,
        "latency_ms": round(latency, 3),
        "inputs": inputs_jsonable(inputs, model.reader.names),
        "outputs": jsonable(pred),
    }

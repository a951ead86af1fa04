"""Batched recording of a pipeline run's progress into the tracking store.

Step records are coalesced by task key and written in the background, many per
transaction (``Client.record_pipeline``), so a step costs microseconds of
bookkeeping rather than several round trips. ``ensure`` writes at once (a step
that uses the fluent API needs its run to exist); ``close`` writes the rest and
raises the first error of a background write.
"""

from __future__ import annotations

import threading
from typing import Any

MAX_BATCH = 500
PARAM_LIMIT = 500


class Recorder:
    def __init__(self, client: Any, interval: float = 0.2) -> None:
        self._client = client
        self._interval = interval
        self._cond = threading.Condition()
        self._steps: dict[str, dict[str, Any]] = {}
        self._pipeline: dict[str, Any] | None = None
        self._cache_entries: list[dict[str, Any]] = []
        self._cache_hits: list[str] = []
        self._error: BaseException | None = None
        self._closed = False
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="modelyard-pipeline-recorder", daemon=True)
        self._thread.start()

    def pipeline(self, record: dict[str, Any]) -> None:
        with self._cond:
            self._pipeline = dict(record)

    def step(self, record: dict[str, Any]) -> None:
        with self._cond:
            self._steps[record["task_key"]] = dict(record)

    def cache_entry(self, entry: dict[str, Any]) -> None:
        with self._cond:
            self._cache_entries.append(entry)

    def cache_hit(self, key: str) -> None:
        with self._cond:
            self._cache_hits.append(key)

    def ensure(self) -> None:
        """Write everything pending now (raises a write error)."""
        self._write()
        self._raise()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self._write()
        self._raise()

    def _raise(self) -> None:
        with self._cond:
            err, self._error = self._error, None
        if err is not None:
            raise err

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(self._interval)
                if self._closed:
                    return
            try:
                self._write()
            except BaseException as exc:  # kept and raised at close
                with self._cond:
                    self._error = self._error or exc

    def _write(self) -> None:
        with self._write_lock:
            with self._cond:
                steps = list(self._steps.values())
                self._steps = {}
                pipeline, self._pipeline = self._pipeline, None
                entries, self._cache_entries = self._cache_entries, []
                hits, self._cache_hits = self._cache_hits, []
            if not (steps or pipeline or entries or hits):
                return
            for start in range(0, max(len(steps), 1), MAX_BATCH):
                first = start == 0
                self._client.record_pipeline({
                    "pipeline_run": pipeline if first else None,
                    "steps": steps[start : start + MAX_BATCH],
                    "cache_entries": entries if first else [],
                    "cache_hits": hits if first else [],
                })


def param_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= PARAM_LIMIT else text[: PARAM_LIMIT - 3] + "..."

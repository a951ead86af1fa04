"""Adaptive micro-batching: requests that arrive together are predicted together.

A request's checked inputs are queued and a flush is scheduled for the next
turn of the event loop, so requests whose bytes arrived in the same turn share
one ``predict``; an idle server flushes a lone request at once (no added
latency). While a batch is predicting (fast models inline, slow ones on one
worker thread) new requests queue up and form the next batch. ``max_wait_ms``
only applies while other requests are still being received: the batch then
waits for them, at most that long. Requests are batched only with requests for
the same model version, of the same kind and shape and without ``params`` (tables,
and tensors whose signature has a variable first axis); a batch that
fails is retried request by request, so one bad request cannot fail others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from .inputs import Inputs
from .model import LoadedModel, n_predictions, slice_predictions

_Item = tuple[LoadedModel, Inputs, "dict[str, Any] | None", "asyncio.Future[Any]"]


class Batcher:
    """Queue of checked requests in front of ``LoadedModel.predict``."""

    def __init__(
        self,
        max_batch_size: int = 32,
        max_wait_ms: float = 2.0,
        inline_predict_ms: float = 5.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.inline_predict_ms = inline_predict_ms
        self.on_batch = on_batch or (lambda n: None)
        self.pending: list[_Item] = []
        self.receiving = 0  # requests whose body is still arriving
        self._scheduled = False
        self._busy = False
        self._first_wait: float | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def predict(self, model: LoadedModel, inputs: Inputs, params: dict[str, Any] | None) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self.pending.append((model, inputs, params, fut))
        if not self._scheduled and not self._busy:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        if self._busy or not self.pending:
            return
        loop = asyncio.get_running_loop()
        if self.max_wait and self.receiving and len(self.pending) < self.max_batch_size:
            now = time.monotonic()
            if self._first_wait is None:
                self._first_wait = now
            left = self._first_wait + self.max_wait - now
            if left > 0:  # others are mid-request: give them a moment to join
                self._scheduled = True
                loop.call_later(min(left, 0.0005), self._flush)
                return
        self._first_wait = None
        batch = self._take()
        model = batch[0][0]
        if model.predict_ms <= self.inline_predict_ms:
            self._run(batch)
            self._after()
            return
        self._busy = True
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="modelyard-predict")
        done = loop.run_in_executor(self._executor, self._compute, batch)
        done.add_done_callback(lambda f: self._deliver(batch, f))

    def _take(self) -> list[_Item]:
        first = self.pending[0]
        model, inputs, params = first[0], first[1], first[2]
        if len(self.pending) == 1 or params is not None or not _joinable(model, inputs):
            return [self.pending.pop(0)]
        batch: list[_Item] = []
        rest: list[_Item] = []
        rows = 0
        shape = _shape(inputs)
        for item in self.pending:
            same = item[0] is model and item[1].kind == inputs.kind and item[2] is None and _shape(item[1]) == shape
            if same and len(batch) < self.max_batch_size:
                batch.append(item)
                rows += item[1].rows
            else:
                rest.append(item)
        self.pending = rest
        return batch

    def _after(self) -> None:
        if self.pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _run(self, batch: list[_Item]) -> None:
        try:
            results = self._compute(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting requests
            results = [exc] * len(batch)
        for (_, _, _, fut), result in zip(batch, results):
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    def _deliver(self, batch: list[_Item], done: asyncio.Future[Any]) -> None:
        self._busy = False
        try:
            results = done.result()
        except BaseException as exc:  # noqa: BLE001
            results = [exc] * len(batch)
        for (_, _, _, fut), result in zip(batch, results):
            if not fut.done():
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
        self._after()

    def _compute(self, batch: list[_Item]) -> list[Any]:
        """Predictions (or the exception) of each request of the batch."""
        self.on_batch(len(batch))
        if len(batch) == 1:
            model, inputs, params, _ = batch[0]
            try:
                return [model.predict(inputs, params)]
            except Exception as exc:  # noqa: BLE001
                return [exc]
        model = batch[0][0]
        parts = [item[1] for item in batch]
        try:
            joined = _concat(parts)
            pred = model.predict(joined, None)
            if n_predictions(pred) != joined.rows:
                raise ValueError("predictions do not line up with rows")
        except Exception:  # noqa: BLE001 - find which request fails, answer the others
            return [self._compute([item])[0] for item in batch]
        out, start = [], 0
        for inputs in parts:
            out.append(slice_predictions(pred, start, start + inputs.rows))
            start += inputs.rows
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def _joinable(model: Any, inputs: Inputs) -> bool:
    """Tables always; one tensor when the model's signature gives it a variable batch axis."""
    if inputs.kind in ("matrix", "frame"):
        return True
    return (inputs.kind == "tensor" and getattr(model, "batches_tensors", False)
            and getattr(inputs.data, "ndim", 0) >= 1)


def _shape(inputs: Inputs) -> tuple[Any, ...]:
    """What requests must share to be answered as one batch: the same columns (and
    dtypes) or the same row shape, so joining them changes no one's answer."""
    data = inputs.data
    if inputs.kind == "frame":
        return tuple(zip(data.columns, map(str, data.dtypes)))
    return (getattr(data, "shape", (None,))[1:], getattr(data, "dtype", None))


def _concat(parts: list[Inputs]) -> Inputs:
    kind = parts[0].kind
    rows = sum(p.rows for p in parts)
    if kind in ("matrix", "tensor"):
        return Inputs(kind, np.concatenate([p.data for p in parts]), rows)
    return Inputs(kind, pd.concat([p.data for p in parts], ignore_index=True), rows)

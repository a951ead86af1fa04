"""The micro-batcher: concurrent requests share a predict; a lone request is not held back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from modelyard.serving.batching import Batcher
from modelyard.serving.inputs import Inputs


class FakeModel:
    predict_ms = 0.1

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, inputs: Inputs, params=None):
        if np.isnan(inputs.data).any():
            raise ValueError("nan in input")
        self.calls.append(inputs.rows)
        return inputs.data[:, 0] * 2


def _rows(*values: float) -> Inputs:
    arr = np.array([[v, 0.0] for v in values])
    return Inputs("matrix", arr, len(values))


def test_concurrent_requests_share_one_predict():
    model = FakeModel()
    sizes: list[int] = []

    async def main():
        batcher = Batcher(max_batch_size=8, max_wait_ms=0, on_batch=sizes.append)
        results = await asyncio.gather(*(batcher.predict(model, _rows(i, i + 0.5), None) for i in range(20)))
        return results

    results = asyncio.run(main())
    assert [r.tolist() for r in results] == [[2 * i, 2 * i + 1] for i in range(20)]
    assert sizes == [8, 8, 4] and model.calls == [16, 16, 8]


def test_lone_request_is_flushed_at_once():
    model = FakeModel()

    async def main():
        batcher = Batcher(max_batch_size=32, max_wait_ms=60_000)
        # Held back for max_wait it would take a minute; not held back, it is immediate.
        return await asyncio.wait_for(batcher.predict(model, _rows(1.0), None), timeout=10)

    out = asyncio.run(main())
    assert out.tolist() == [2.0]


def test_a_bad_request_does_not_fail_its_batch():
    model = FakeModel()

    async def main():
        batcher = Batcher(max_batch_size=8)
        return await asyncio.gather(batcher.predict(model, _rows(1.0), None),
                                    batcher.predict(model, _rows(float("nan")), None),
                                    batcher.predict(model, _rows(3.0), None), return_exceptions=True)

    ok1, bad, ok3 = asyncio.run(main())
    assert ok1.tolist() == [2.0] and ok3.tolist() == [6.0]
    assert isinstance(bad, ValueError)


def test_slow_models_predict_on_a_thread():
    class Slow(FakeModel):
        predict_ms = 50.0

    model = Slow()

    async def main():
        batcher = Batcher(max_batch_size=4, inline_predict_ms=5)
        try:
            return await asyncio.gather(*(batcher.predict(model, _rows(i), None) for i in range(6)))
        finally:
            batcher.close()

    results = asyncio.run(main())
    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(6)]
    assert sum(model.calls) == 6 and len(model.calls) <= 3


@pytest.mark.parametrize("n", [1, 3])
def test_params_are_never_batched(n):
    model = FakeModel()

    async def main():
        batcher = Batcher(max_batch_size=8)
        await asyncio.gather(*(batcher.predict(model, _rows(1.0), {"p": 1}) for _ in range(n)))

    asyncio.run(main())
    assert model.calls == [1] * n


def test_frames_with_different_columns_are_not_joined():
    import pandas as pd

    seen: list[list[str]] = []

    class FrameModel:
        predict_ms = 0.1

        def predict(self, inputs: Inputs, params=None):
            seen.append(list(inputs.data.columns))
            return inputs.data["a"].to_numpy() * 2

    model = FrameModel()
    with_b = Inputs("frame", pd.DataFrame({"a": [1.0], "b": [5.0]}), 1)
    without_b = Inputs("frame", pd.DataFrame({"a": [2.0]}), 1)

    async def main():
        batcher = Batcher(max_batch_size=8, max_wait_ms=0)
        return await asyncio.gather(batcher.predict(model, with_b, None), batcher.predict(model, without_b, None))

    first, second = asyncio.run(main())
    assert (first.tolist(), second.tolist()) == ([2.0], [4.0])
    assert ["a"] in seen  # the request without "b" was predicted as it came, never padded with NaN

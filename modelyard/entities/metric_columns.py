"""Metric points held as columns: one (key, values, timestamps, steps) series per key.

A bulk batch arrives columnar; :class:`MetricColumns` keeps it that way. It is a
``Sequence[Metric]``, so validation reads it point by point like any list of
metrics (each :class:`~modelyard.entities.Metric` made when it is reached and
dropped after, so 100,000 points never sit in memory as 100,000 objects), while
the store writes straight from the columns.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from typing import overload

from . import Metric

Series = tuple[str, Sequence[float], Sequence[int], Sequence[int]]


class MetricColumns(Sequence[Metric]):
    """Series of equal-length columns, read as one sequence of metrics, series after series.

    Example::

        MetricColumns([("loss", [0.9, 0.7], [1700000000000, 1700000000001], [0, 1])])
    """

    __slots__ = ("_ends", "series")

    def __init__(self, series: Sequence[Series]) -> None:
        ends = []
        total = 0
        for key, values, timestamps, steps in series:
            if not len(values) == len(timestamps) == len(steps):
                raise ValueError(f"series {key!r}: values, timestamps and steps differ in length")
            total += len(values)
            ends.append(total)
        self.series: tuple[Series, ...] = tuple(series)
        self._ends = ends

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[Metric]:
        return chain.from_iterable(
            map(Metric, repeat(key, len(values)), values, timestamps, steps)
            for key, values, timestamps, steps in self.series
        )

    @overload
    def __getitem__(self, index: int) -> Metric: ...
    @overload
    def __getitem__(self, index: slice) -> list[Metric]: ...
    def __getitem__(self, index: int | slice) -> Metric | list[Metric]:
        if isinstance(index, slice):
            return list(self)[index]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("MetricColumns index out of range")
        s = bisect_right(self._ends, index)
        key, values, timestamps, steps = self.series[s]
        i = index - (self._ends[s - 1] if s else 0)
        return Metric(key, values[i], timestamps[i], steps[i])

    def __repr__(self) -> str:
        return f"MetricColumns({len(self)} points in {len(self.series)} series)"

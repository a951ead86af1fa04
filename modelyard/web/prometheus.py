"""Prometheus series kept as plain counts, shared by ``modelyard serve`` and ``modelyard server``.

The series updated on every request are plain counts kept by the process itself (a
list slot or a dict entry per update: no lock, no label lookup) and turned into
Prometheus samples when ``/metrics`` is scraped, with the same names, labels and
buckets as ``prometheus_client``'s own Counter and Histogram would give.
``prometheus_client``'s classes cost several microseconds per update under their
locks; these cost about one. Both families can ``dump`` their counts as JSON-ready
data and add up other processes' dumps (``merged``), for servers with several workers.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Buckets:
    """One histogram series: a count per bucket (the last is ``+Inf``) and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts: list[float] = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        if not math.isnan(value):  # NaN falls in no bucket (as in prometheus_client) but joins the sum
            self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class HistogramFamily(Collector):
    """Histogram series keyed by their label values, exposed like ``prometheus_client.Histogram``."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], bounds: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.labelnames, self.bounds = tuple(labelnames), tuple(float(b) for b in bounds)
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        self.series: dict[tuple[str, ...], Buckets] = {}

    def labels(self, *values: str) -> Buckets:
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = Buckets(self.bounds)
        return series

    def observe(self, value: float) -> None:
        """For a family without labels (what ``Histogram.observe`` is without ``.labels``)."""
        self.labels().observe(value)

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, "histogram")
        for values, series in list(self.series.items()):
            labels = dict(zip(self.labelnames, values))
            acc: float = 0
            for le, count in zip(self._les, list(series.counts)):
                acc += count
                metric.add_sample(self.name + "_bucket", {**labels, "le": le}, float(acc))
            metric.add_sample(self.name + "_count", labels, float(acc))
            if self.bounds[0] >= 0:  # prometheus_client leaves out the sum when buckets go negative
                metric.add_sample(self.name + "_sum", labels, series.total)
        yield metric

    def dump(self) -> list[Any]:
        """The counts as JSON-ready data: ``[[label values, bucket counts, sum], ...]``."""
        return [[list(values), list(series.counts), series.total] for values, series in list(self.series.items())]

    def merged(self, dumps: Sequence[Any]) -> HistogramFamily:
        """A copy holding these counts plus the ``dump()`` s of other processes."""
        out = HistogramFamily(self.name, self.documentation, self.labelnames, self.bounds)
        for dumped in (self.dump(), *dumps):
            for values, counts, total in dumped:
                series = out.labels(*map(str, values))
                if len(counts) == len(series.counts):  # buckets changed between versions: skip, never crash
                    series.counts = [a + float(b) for a, b in zip(series.counts, counts)]
                    series.total += float(total)
        return out


class CounterFamily(Collector):
    """Counter series keyed by their label values (a dict entry each), exposed as ``<name>_total``."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.counts: dict[tuple[str, ...], float] = {}
        if not self.labelnames:
            self.counts[()] = 0  # a counter without labels reads 0 before its first event

    def inc(self, *values: str) -> None:
        """Add one to the series of these label values (none for a family without labels)."""
        self.counts[values] = self.counts.get(values, 0) + 1

    def dump(self) -> list[Any]:
        return [[list(values), count] for values, count in list(self.counts.items())]

    def merged(self, dumps: Sequence[Any]) -> CounterFamily:
        out = CounterFamily(self.name, self.documentation, self.labelnames)
        counts = out.counts
        for dumped in (self.dump(), *dumps):
            for values, count in dumped:
                key = tuple(map(str, values))
                counts[key] = counts.get(key, 0) + float(count)
        return out

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, count in list(self.counts.items()):
            family.add_metric(list(values), float(count))
        yield family

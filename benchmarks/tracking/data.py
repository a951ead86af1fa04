"""Deterministic seed data (random.Random(0)) shared by every server."""

from __future__ import annotations

import random
from dataclasses import dataclass

T0 = 1_700_000_000_000  # ms; every timestamp is T0 + something deterministic
FILTER = "metrics.m1 < 0.5 and params.p1 = 'a'"
ORDER_BY = ["metrics.m0 DESC"]


@dataclass(frozen=True)
class RunSeed:
    """One run's data: 10 params, 5 metrics, 3 tags. p0 names the run."""

    index: int
    params: list[tuple[str, str]]
    metrics: list[tuple[str, float]]
    tags: list[tuple[str, str]]

    @property
    def p0(self) -> str:
        return self.params[0][1]

    def raw(self) -> dict[str, list[dict[str, object]]]:
        """The log-batch body minus run_id."""
        ts = T0 + self.index
        return {
            "metrics": [{"key": k, "value": v, "timestamp": ts, "step": 0} for k, v in self.metrics],
            "params": [{"key": k, "value": v} for k, v in self.params],
            "tags": [{"key": k, "value": v} for k, v in self.tags],
        }


def run_seeds(n: int, seed: int = 0) -> list[RunSeed]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        params = [("p0", f"r{i:06d}"), ("p1", rng.choice("abc"))]
        params += [(f"p{j}", f"v{rng.randrange(1000)}") for j in range(2, 10)]
        metrics = [(f"m{j}", rng.random()) for j in range(5)]
        tags = [(f"t{j}", f"tag{rng.randrange(100)}") for j in range(3)]
        out.append(RunSeed(i, params, metrics, tags))
    return out


def expected_hits(seeds: list[RunSeed], limit: int | None = None) -> list[str]:
    """p0 of the runs matching FILTER, in ORDER_BY order."""
    hits = [s for s in seeds if s.metrics[1][1] < 0.5 and s.params[1][1] == "a"]
    hits.sort(key=lambda s: s.metrics[0][1], reverse=True)
    return [s.p0 for s in hits[:limit]]


def metric_points(n_batches: int, batch_size: int, keys: int = 10, seed: int = 0) -> list[list[tuple[str, float, int, int]]]:
    """`n_batches` batches of (key, value, timestamp, step); each key advances in step."""
    rng = random.Random(seed)
    per_key = batch_size // keys
    batches = []
    for b in range(n_batches):
        batch = []
        for step in range(b * per_key, (b + 1) * per_key):
            for k in range(keys):
                batch.append((f"m{k}", rng.random(), T0 + step, step))
        batches.append(batch)
    return batches

"""A service over a fresh store with one registered model, version 1 aliased champion, and its reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelyard.monitoring import profile
from tests.conftest import make_service


def reference_frame(n: int = 2000, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"age": rng.normal(40, 10, n), "plan": rng.choice(np.array(["a", "b", "c"], dtype=object), n)}


def requests(version: str, n: int, shift: float = 0.0, seed: int = 1, start: int = 0,
             ts: int | None = None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        row = [float(rng.normal(40 + shift, 10)), str(rng.choice(["a", "b", "c"]))]
        out.append({"request_id": f"r{i}", "model_name": "churn", "model_version": version, "latency_ms": 1.0,
                    "timestamp_ms": ts, "inputs": {"columns": ["age", "plan"], "data": [row]},
                    "outputs": [int(row[0] > 45)]})
    return out


@pytest.fixture
def service(db_uri: str, tmp_path):  # type: ignore[no-untyped-def]
    svc = make_service(db_uri, tmp_path, webhook_allow_private_hosts=True)
    svc.webhooks.embedded_delivery = False  # deliveries stay in the outbox for the test to read
    svc.registry.create_registered_model("churn")
    mv = svc.registry.create_model_version("churn", "s3://bucket/churn/1")
    svc.registry.set_registered_model_alias("churn", "champion", mv.version)
    svc.monitoring.set_reference("churn", mv.version, profile(reference_frame()))
    yield svc
    svc.close()

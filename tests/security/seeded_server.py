"""A live server per backend with a few entities in it, for the bad-input and fuzz tests.

Requests name these entities so that they get past "does not exist" into the
code that reads and stores their values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import LiveServer, serving


@dataclass
class Seeded:
    server: LiveServer
    experiment_id: str
    run_id: str
    model_name: str
    model_id: str

    @property
    def api(self) -> str:
        return self.server.url + "/api/2.0/mlflow"

    def known(self) -> dict[str, object]:
        """Field name → a value that names one of the seeded entities."""
        return {
            "run_id": self.run_id, "run_uuid": self.run_id, "run_ids": [self.run_id],
            "experiment_id": self.experiment_id, "experiment_ids": [self.experiment_id],
            "name": self.model_name, "model_id": self.model_id, "version": "1",
            "metric_key": "m", "key": "m",
        }


@contextlib.contextmanager
def seeded_server(kind: str, folder: Path) -> Iterator[Seeded]:
    """A server over a fresh ``kind`` store holding an experiment, a run with a metric, a registered
    model with version 1, and a logged model."""
    with serving(kind, folder) as server:
        api = server.url + "/api/2.0/mlflow"
        with httpx.Client(base_url=api, timeout=30) as c:
            exp = c.post("/experiments/create", json={"name": "seeded"}).json()["experiment_id"]
            run = c.post("/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
            c.post("/runs/log-metric", json={"run_id": run, "key": "m", "value": 1, "timestamp": 1, "step": 0})
            c.post("/registered-models/create", json={"name": "seeded-model"}).raise_for_status()
            c.post("/model-versions/create",
                   json={"name": "seeded-model", "source": f"runs:/{run}/model", "run_id": run}).raise_for_status()
            model = c.post("/logged-models", json={"experiment_id": exp, "name": "lm"}).json()["model"]["info"]["model_id"]
        yield Seeded(server, exp, run, "seeded-model", model)

"""Read an MLflow tracking server through its REST API: our own client speaks it."""

from __future__ import annotations

from collections.abc import Iterator

from ..artifacts import ArtifactRepository
from ..client import Client
from ..entities import Experiment, Metric, Run, ViewType
from ..entities.logged_models import LoggedModel
from ..entities.registry import ModelVersion, RegisteredModel
from .source import MlflowSource, pages


class RestSource(MlflowSource):
    """A running ``mlflow server`` (or anything speaking its REST API)."""

    def __init__(self, url: str) -> None:
        self.c = Client(url)
        self.label = self.c._t.base_url  # type: ignore[attr-defined]  # an HTTP client: no password in it

    def experiments(self) -> list[Experiment]:
        found = pages(lambda tok: self.c.search_experiments(ViewType.ALL, 1000, None, None, tok))
        return sorted(found, key=lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else 0)

    def runs(self, experiment_id: str) -> Iterator[Run]:
        """MLflow's search leaves out the logged models a run used; its get-run has them."""
        order = ["attributes.start_time ASC"]
        for run in pages(lambda tok: self.c.search_runs([experiment_id], "", ViewType.ALL, 1000, order, tok)):
            if not run.inputs.model_inputs:
                run.inputs.model_inputs = self.c.get_run(run.info.run_id).inputs.model_inputs
            yield run

    def metrics(self, run: Run) -> list[Metric]:
        points: list[Metric] = []
        for key in sorted(run.data.metrics):
            points.extend(self.c.get_metric_history(run.info.run_id, key))
        return points

    def logged_models(self, experiment_id: str) -> list[LoggedModel]:
        return list(pages(lambda tok: self.c.search_logged_models([experiment_id], None, None, 100, None, tok)))

    def registered_models(self) -> list[RegisteredModel]:
        return list(pages(lambda tok: self.c.search_registered_models(None, 1000, ["name ASC"], tok)))

    def model_versions(self, name: str) -> list[ModelVersion]:
        quoted = name.replace("'", "\\'")
        found = pages(lambda tok: self.c.search_model_versions(f"name = '{quoted}'", 1000, None, tok))
        return sorted(found, key=lambda v: int(v.version))

    def artifacts(self, artifact_uri: str) -> ArtifactRepository:
        return self.c._t.artifact_repository(artifact_uri)

    def close(self) -> None:
        self.c.close()

"""Read an MLflow tracking server through its REST API (httpx, via our HTTP transport)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from ..artifacts import ArtifactRepository
from ..client.http import HttpTransport
from ..entities import Experiment, Metric, PagedList, Run, ViewType
from ..entities.logged_models import LoggedModel
from ..entities.registry import ModelVersion, RegisteredModel
from .source import MlflowSource, pages


class RestSource(MlflowSource):
    """A running ``mlflow server`` (or anything speaking its REST API)."""

    def __init__(self, url: str) -> None:
        self.t = HttpTransport(url)
        self.label = self.t.base_url

    def experiments(self) -> list[Experiment]:
        found = pages(lambda tok: self.t.search_experiments(ViewType.ALL, 1000, None, None, tok))
        return sorted(found, key=lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else 0)

    def runs(self, experiment_id: str) -> Iterator[Run]:
        """MLflow's search leaves out the logged models a run used; its get-run has them."""
        order = ["attributes.start_time ASC"]
        for run in pages(lambda tok: self.t.search_runs([experiment_id], "", ViewType.ALL, 1000, order, tok)):
            if not run.inputs.model_inputs:
                run.inputs.model_inputs = self.t.get_run(run.info.run_id).inputs.model_inputs
            yield run

    def metrics(self, run: Run) -> list[Metric]:
        points: list[Metric] = []
        for key in sorted(run.data.metrics):
            points.extend(pages(functools.partial(self._history, run.info.run_id, key)))
        return points

    def _history(self, run_id: str, key: str, token: str | None) -> PagedList:
        return self.t.get_metric_history(run_id, key, 25_000, token)

    def logged_models(self, experiment_id: str) -> list[LoggedModel]:
        return list(pages(lambda tok: self.t.search_logged_models([experiment_id], None, None, 100, None, tok)))

    def registered_models(self) -> list[RegisteredModel]:
        return list(pages(lambda tok: self.t.search_registered_models(None, 1000, ["name ASC"], tok)))

    def model_versions(self, name: str) -> list[ModelVersion]:
        quoted = name.replace("'", "\\'")
        found = pages(lambda tok: self.t.search_model_versions(f"name = '{quoted}'", 1000, None, tok))
        return sorted(found, key=lambda v: int(v.version))

    def artifacts(self, artifact_uri: str) -> ArtifactRepository:
        return self.t.artifact_repository(artifact_uri)

    def close(self) -> None:
        self.t.close()

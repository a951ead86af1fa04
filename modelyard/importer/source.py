"""What the importer reads from an MLflow installation: one interface, two readers.

:class:`MlflowSource` yields modelyard entities (which mirror MLflow's), so the
copier does not care whether they came over MLflow's REST API
(``mlflow_rest.py``) or straight from its SQL tables (``mlflow_sql.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import Any

from ..artifacts import ArtifactRepository
from ..entities import Experiment, Metric, PagedList, Run
from ..entities.logged_models import LoggedModel
from ..entities.registry import ModelVersion, RegisteredModel
from ..errors import InvalidParameterValue

_MAX_PAGES = 1_000_000


def pages(fetch: Callable[[str | None], PagedList]) -> Iterator[Any]:
    """Every item of a paged search: ``fetch(token)`` gives one page."""
    token = None
    for _ in range(_MAX_PAGES):
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return


def model_id_of(source: str | None) -> str | None:
    """The logged model a version's source names (``models:/m-…``): MLflow keeps it there, not in a column."""
    if source and source.startswith("models:/m-"):
        return source[len("models:/"):].split("/")[0]
    return None


class MlflowSource(abc.ABC):
    """An MLflow tracking store and registry, read only."""

    #: Names the installation in the tags that record what was imported (no password in it).
    label: str

    @abc.abstractmethod
    def experiments(self) -> list[Experiment]:
        """Every experiment, deleted ones too, by id."""

    @abc.abstractmethod
    def runs(self, experiment_id: str) -> Iterator[Run]:
        """Every run of an experiment (deleted ones too), oldest first, with params, tags and inputs."""

    @abc.abstractmethod
    def metrics(self, run: Run) -> list[Metric]:
        """The full history of every metric of ``run``."""

    @abc.abstractmethod
    def logged_models(self, experiment_id: str) -> list[LoggedModel]:
        """The experiment's logged models (MLflow 3) with their tags and params."""

    @abc.abstractmethod
    def registered_models(self) -> list[RegisteredModel]:
        """Every registered model with its tags and aliases."""

    @abc.abstractmethod
    def model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of one registered model, by version number."""

    @abc.abstractmethod
    def artifacts(self, artifact_uri: str) -> ArtifactRepository:
        """The files under a run's or logged model's artifact location."""

    def close(self) -> None:  # noqa: B027 - a reader without resources needs no close
        """Release connections."""


def open_source(source: str, source_artifacts: str | None = None) -> MlflowSource:
    """A reader for ``http(s)://host:port`` (a tracking server) or a database URI (``sqlite:///…``, ``postgresql://…``)."""
    if source.startswith(("http://", "https://")):
        from .mlflow_rest import RestSource

        return RestSource(source)
    if "://" in source or source.startswith("sqlite:"):
        from .mlflow_sql import SqlSource

        return SqlSource(source, source_artifacts)
    raise InvalidParameterValue(
        f"SOURCE {source!r} is neither a tracking server (http://host:port) nor a database URI "
        "(sqlite:///path/mlflow.db, postgresql://user@host/db): give one of those."
    )

"""Lineage: where a model version came from, as a plain tree.

model version → the run that logged it (params, metrics, tags, the git commit
and entry point MLflow records as ``mlflow.source.*`` tags) → the datasets the
run read → its parent run (``mlflow.parentRunId``: a sweep, or the pipeline run
whose step trained it) → that run's parent…

>>> import modelyard as my
>>> tree = my.models.lineage("models:/churn@champion")
>>> tree.run.git_commit, [d.name for d in tree.run.datasets], tree.run.parent.run_name
('4f1c2e9', ['customers-2024-06'], 'weekly-retrain')
>>> tree.to_dict()  # JSON-ready
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidParameterValue, ResourceDoesNotExist

GIT_COMMIT = "mlflow.source.git.commit"
GIT_REPO = "mlflow.source.git.repoURL"
GIT_BRANCH = "mlflow.source.git.branch"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
ENTRY_POINT = "mlflow.project.entryPoint"
PARENT_RUN = "mlflow.parentRunId"
DATA_CONTEXT = "mlflow.data.context"
MAX_DEPTH = 20  # parent links followed at most (and never in a cycle)

__all__ = ["DatasetLineage", "ModelLineage", "RunLineage", "lineage"]


@dataclass
class DatasetLineage:
    """A dataset a run read: ``context`` is ``training``, ``validation``… when the run said so."""

    name: str
    digest: str
    source_type: str
    source: str
    context: str | None = None
    schema: str | None = None
    profile: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunLineage:
    """A run with what it recorded about how it ran; ``parent`` is the run that started it, if any."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    user_id: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[DatasetLineage] = field(default_factory=list)
    parent: RunLineage | None = None

    @property
    def git_commit(self) -> str | None:
        return self.tags.get(GIT_COMMIT)

    @property
    def source_name(self) -> str | None:
        """The script, notebook or project that ran (``mlflow.source.name``)."""
        return self.tags.get(SOURCE_NAME)

    @property
    def entry_point(self) -> str | None:
        """The MLflow project entry point, else the source name."""
        return self.tags.get(ENTRY_POINT) or self.tags.get(SOURCE_NAME)

    def ancestors(self) -> list[RunLineage]:
        """Parent, grandparent… (the last one is the outermost: a pipeline run, a sweep)."""
        out, run = [], self.parent
        while run is not None:
            out.append(run)
            run = run.parent
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "parent"}
        d["source"] = {"git_commit": self.git_commit, "git_repo": self.tags.get(GIT_REPO),
                       "git_branch": self.tags.get(GIT_BRANCH), "name": self.source_name,
                       "type": self.tags.get(SOURCE_TYPE), "entry_point": self.entry_point}
        d["parent"] = None if self.parent is None else self.parent.to_dict()
        return d


@dataclass
class ModelLineage:
    """A registered model version and the chain that produced it."""

    uri: str
    name: str
    version: str
    source: str | None
    current_stage: str
    aliases: list[str]
    tags: dict[str, str]
    creation_timestamp: int | None
    model_id: str | None
    run: RunLineage | None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "run"}
        d["run"] = None if self.run is None else self.run.to_dict()
        return d


def lineage(uri: str, client: Any = None) -> ModelLineage:
    """The lineage of the model version ``uri`` names (``models:/name@alias``, ``models:/name/3``,
    ``models:/name/Production``).

    >>> my.models.lineage("models:/fraud@champion").run.params["max_depth"]
    '6'
    """
    if client is None:
        from ..client.fluent import get_client

        client = get_client()
    if not str(uri).startswith("models:"):
        raise InvalidParameterValue(f"Lineage needs a registered model URI (models:/name@alias or models:/name/N), "
                                    f"got {uri!r}.")
    mv = client.resolve_model_version(str(uri))
    run_id = mv.run_id
    if not run_id and mv.model_id and hasattr(client, "get_logged_model"):
        run_id = getattr(client.get_logged_model(mv.model_id), "source_run_id", None)
    return ModelLineage(
        uri=str(uri), name=mv.name, version=str(mv.version), source=mv.source, current_stage=mv.current_stage,
        aliases=list(mv.aliases), tags=dict(mv.tags), creation_timestamp=mv.creation_timestamp,
        model_id=mv.model_id, run=run_lineage(run_id, client) if run_id else None,
    )


def run_lineage(run_id: str, client: Any) -> RunLineage | None:
    """A run and its ancestors; None when the run no longer exists."""
    first: RunLineage | None = None
    child: RunLineage | None = None
    seen: set[str] = set()
    next_id: str | None = run_id
    for _ in range(MAX_DEPTH):
        if not next_id or next_id in seen:
            break
        seen.add(next_id)
        try:
            node = _run(client.get_run(next_id))
        except ResourceDoesNotExist:
            break
        if child is None:
            first = node
        else:
            child.parent = node
        child, next_id = node, node.tags.get(PARENT_RUN)
    return first


def _run(run: Any) -> RunLineage:
    info, data = run.info, run.data
    return RunLineage(
        run_id=info.run_id, run_name=info.run_name, experiment_id=str(info.experiment_id), status=info.status,
        user_id=info.user_id, start_time=info.start_time, end_time=info.end_time, artifact_uri=info.artifact_uri,
        params=dict(data.params), metrics=dict(data.metrics), tags=dict(data.tags),
        datasets=[_dataset(d) for d in run.inputs.dataset_inputs],
    )


def _dataset(item: Any) -> DatasetLineage:
    ds, tags = item.dataset, {t.key: t.value for t in item.tags}
    return DatasetLineage(ds.name, ds.digest, ds.source_type, ds.source, tags.get(DATA_CONTEXT), ds.schema,
                          ds.profile, tags)

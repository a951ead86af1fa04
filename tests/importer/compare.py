"""Assert that a modelyard store holds exactly what an MLflow installation holds."""

from __future__ import annotations

import math
from typing import Any

from modelyard import Client
from modelyard.entities import ViewType
from modelyard.importer.copy import COMPLETE_TAG, ID_TAG, LOCATION_TAG, SOURCE_TAG

from .populate import MODEL_NAME, files_of, folder_files

MARKS = {SOURCE_TAG, ID_TAG, COMPLETE_TAG, LOCATION_TAG}


def _plain(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k not in MARKS}


def _points(history: Any) -> list[tuple[int, int, Any]]:
    return sorted((m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value) for m in history)


def target_runs(target: Client) -> dict[str, Any]:
    """MLflow run id -> the modelyard run imported from it (every experiment, deleted ones too)."""
    out: dict[str, Any] = {}
    for exp in target.search_experiments(ViewType.ALL):
        for run in target.search_runs([exp.experiment_id], run_view_type=ViewType.ALL):
            source_id = run.data.tags.get(ID_TAG)
            assert source_id not in out, f"run {source_id} imported twice"
            if source_id:
                out[source_id] = run
    return out


def assert_same(source_uri: str, target: Client) -> dict[str, Any]:
    """Every experiment, run, history, input, file, logged model and registry entry arrived unchanged."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType as MlflowView

    src = MlflowClient(source_uri)
    runs = target_runs(target)
    by_id = {r.info.run_id: source_id for source_id, r in runs.items()}
    experiments = {e.tags.get(ID_TAG): e for e in target.search_experiments(ViewType.ALL) if e.tags.get(ID_TAG)}
    for exp in src.search_experiments(MlflowView.ALL):
        mine = experiments[exp.experiment_id]
        assert (mine.name, mine.lifecycle_stage) == (exp.name, exp.lifecycle_stage)
        assert _plain(mine.tags) == exp.tags
        assert mine.tags[LOCATION_TAG] == exp.artifact_location
        for run in src.search_runs([exp.experiment_id], run_view_type=MlflowView.ALL):
            assert_same_run(src, target, run, runs[run.info.run_id], by_id)
            assert runs[run.info.run_id].info.experiment_id == mine.experiment_id
    assert len(runs) == sum(len(src.search_runs([e.experiment_id], run_view_type=MlflowView.ALL))
                            for e in src.search_experiments(MlflowView.ALL))
    assert_same_registry(src, target, runs)
    return runs


def assert_same_run(src: Any, target: Client, run: Any, mine: Any, by_id: dict[str, str]) -> None:
    info, new = run.info, mine.info
    assert (new.run_name, new.status, new.start_time, new.end_time, new.lifecycle_stage, new.user_id) == (
        info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage, info.user_id)
    assert mine.data.params == run.data.params
    tags = _plain(mine.data.tags)
    if "mlflow.parentRunId" in tags:
        tags["mlflow.parentRunId"] = by_id[tags["mlflow.parentRunId"]]
    assert tags == run.data.tags
    assert set(mine.data.metrics) == set(run.data.metrics)
    for key in run.data.metrics:
        theirs = _points(src.get_metric_history(info.run_id, key))
        assert _points(target.get_metric_history(new.run_id, key)) == theirs
    assert [_dataset(d) for d in mine.inputs.dataset_inputs] == [_dataset(d) for d in run.inputs.dataset_inputs]
    used = sorted(target.get_logged_model(m.model_id).tags[ID_TAG] for m in mine.inputs.model_inputs)
    assert used == sorted(m.model_id for m in src.get_run(info.run_id).inputs.model_inputs)  # search leaves them out
    if info.lifecycle_stage == "active":
        assert files_of(target, new.run_id) == files_of(src, info.run_id)


def _dataset(d: Any) -> tuple[Any, ...]:
    ds = d.dataset
    return (ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile,
            sorted((t.key, t.value) for t in d.tags))


def assert_same_registry(src: Any, target: Client, runs: dict[str, Any]) -> None:
    theirs, mine = src.get_registered_model(MODEL_NAME), target.get_registered_model(MODEL_NAME)
    assert mine.description == theirs.description
    assert _plain(mine.tags) == theirs.tags
    assert mine.aliases == {alias: str(v) for alias, v in theirs.aliases.items()}
    src_versions = sorted(src.search_model_versions(f"name = '{MODEL_NAME}'"), key=lambda v: int(v.version))
    my_versions = sorted(target.search_model_versions(f"name = '{MODEL_NAME}'"), key=lambda v: int(v.version))
    assert [v.version for v in my_versions] == [str(v.version) for v in src_versions]
    for old, new in zip(src_versions, my_versions, strict=True):
        assert (new.description, new.current_stage, _plain(new.tags)) == (old.description, old.current_stage, old.tags)
        assert new.run_id == runs[old.run_id].info.run_id
        if old.source.startswith("runs:/"):
            assert new.source == f"runs:/{new.run_id}/{old.source.split('/', 2)[2]}"
        else:
            assert old.source.startswith("models:/") and new.source == f"models:/{new.model_id}"
        if old.model_id:
            model = target.get_logged_model(new.model_id)
            assert model.tags[ID_TAG] == old.model_id
            assert_same_logged_model(src, target, src.get_logged_model(old.model_id), model, runs)


def assert_same_logged_model(src: Any, target: Client, theirs: Any, mine: Any, runs: dict[str, Any]) -> None:
    import tempfile

    import mlflow

    assert (mine.name, mine.model_type, mine.params) == (theirs.name, theirs.model_type, theirs.params)
    assert mine.status == "READY" and str(theirs.status).endswith("READY")
    assert _plain(mine.tags) == theirs.tags
    assert mine.source_run_id == runs[theirs.source_run_id].info.run_id
    theirs_files = folder_files(mlflow.artifacts.download_artifacts(theirs.artifact_location))
    with tempfile.TemporaryDirectory() as tmp:
        target._t.artifact_repository(mine.artifact_location).download("", tmp)
        assert folder_files(tmp) == theirs_files
    assert "MLmodel" in theirs_files

"""Import an MLflow database and artifact root, as written by the official client."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from modelyard import Client
from modelyard.entities import Metric
from modelyard.errors import InvalidParameterValue
from modelyard.importer import Importer, open_source
from modelyard.importer.copy import ID_TAG, SOURCE_TAG
from tests.conftest import serving

from .compare import assert_same, target_runs
from .conftest import Installation


def _import(install: Installation, target: Client, **options: int) -> Importer:
    source = open_source(install.db_uri, install.artifacts)
    try:
        importer = Importer(source, target, **options)
        importer.run()
    finally:
        source.close()
    return importer


def test_everything_arrives_and_a_second_pass_copies_nothing(install_and_target: tuple[Installation, str]) -> None:
    mlflow_install, target_uri = install_and_target
    with Client(target_uri) as target:
        first = _import(mlflow_install, target).summary
        assert first.copied["runs"] == 6 and first.copied["logged models"] == 1
        assert first.copied["model versions"] == 2 and first.copied["aliases"] == 1
        assert first.copied["metric points"] == 2 * 32 + 1 + 1  # two children (30 + 1 loss, 1 grad_norm), crashed, legacy
        assert first.copied["artifact files"] >= 2
        assert not first.skipped or set(first.skipped) <= {("experiments", "already imported")}
        runs = assert_same(mlflow_install.db_uri, target)

        again = _import(mlflow_install, target).summary
        assert again.copied["runs"] == again.copied["metric points"] == again.copied["model versions"] == 0
        assert again.skipped[("runs", "already imported")] == 6
        assert again.skipped[("model versions", "already imported")] == 2
        assert {k: r.info.run_id for k, r in assert_same(mlflow_install.db_uri, target).items()} == {
            k: r.info.run_id for k, r in runs.items()}
        child = runs[mlflow_install.built.runs["lr-0.1"]].info.run_id
        assert len(target.get_metric_history(child, "loss")) == 31


def test_an_interrupted_import_is_finished_by_the_next_pass(mlflow_install: Installation, tmp_path) -> None:
    with Client(str(tmp_path / "store")) as target:
        sliced = _import(mlflow_install, target, max_runs=2).summary
        assert sliced.stopped_early and sliced.copied["runs"] == 2
        assert "--max-runs" in "\n".join(sliced.lines())
        assert len(target_runs(target)) == 2
        # What a pass killed mid-run leaves: the run made with its marks, half its history, no completion mark.
        sweep = next(e for e in target.search_experiments() if e.tags.get(ID_TAG) == "1")
        source_id = mlflow_install.built.runs["lr-0.01"]
        original = MlflowClient(mlflow_install.db_uri).get_run(source_id).info
        marks = {SOURCE_TAG: mlflow_install.db_uri, ID_TAG: source_id, "mlflow.runName": "lr-0.01"}
        partial = target.create_run(sweep.experiment_id, original.start_time, tags=marks, user_id=original.user_id)
        target.log_batch(partial.info.run_id, [Metric("loss", 1.0 + 0.01, 1_700_000_000_000, 0)])

        rest = _import(mlflow_install, target).summary
        assert rest.copied["runs"] == 4
        runs = assert_same(mlflow_install.db_uri, target)
        assert runs[source_id].info.run_id == partial.info.run_id


def test_server_artifact_locations_resolve_under_source_artifacts(mlflow_install: Installation, tmp_path) -> None:
    root = tmp_path / "mlartifacts"
    (root / "1" / "abc" / "artifacts" / "plots").mkdir(parents=True)
    (root / "1" / "abc" / "artifacts" / "plots" / "roc.txt").write_text("auc 0.9")
    with_root = open_source(mlflow_install.db_uri, str(root))
    without = open_source(mlflow_install.db_uri)
    try:
        repo = with_root.artifacts("mlflow-artifacts:/1/abc/artifacts")
        assert repo.read_bytes("plots/roc.txt") == b"auc 0.9"
        with pytest.raises(InvalidParameterValue, match="--source-artifacts"):
            without.artifacts("mlflow-artifacts:/1/abc/artifacts")
    finally:
        with_root.close()
        without.close()


def test_a_running_modelyard_server_is_a_target_too(mlflow_install: Installation, tmp_path) -> None:
    with serving("sqlite", tmp_path / "server") as live, Client(live.url) as target:
        first = _import(mlflow_install, target).summary
        assert first.copied["runs"] == 6 and first.copied["logged models"] == 1
        assert_same(mlflow_install.db_uri, target)
        assert _import(mlflow_install, target).summary.copied["runs"] == 0

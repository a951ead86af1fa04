"""Versions registered from logged models tag them ``mlflow.modelVersions``; the operator's source regex.

Both through the official ``MlflowClient`` (3.17.2) against a live server, as
MLflow's own server tests drive ``mlflow server``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow.exceptions import MlflowException

from modelyard.errors import InvalidParameterValue
from tests.conftest import LiveServer, make_service

from .conftest import unique

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


def _versions_tag(client: Any, model_id: str) -> Any:
    return json.loads(client.get_logged_model(model_id).tags["mlflow.modelVersions"])


def test_a_version_from_a_logged_model_tags_it(mlflow_client) -> None:
    c = mlflow_client
    exp = c.create_experiment(unique("exp"))
    model = c.create_logged_model(exp, name="clf")
    other = c.create_logged_model(exp, name="untouched")
    first, second = unique(), unique()
    c.create_registered_model(first)
    c.create_registered_model(second)
    mv = c.create_model_version(first, f"models:/{model.model_id}", model_id=model.model_id)
    assert mv.version == "1"  # (MLflow's client reads no model_id back from the REST answer)
    # MLflow's server writes json.dumps of [{"name", "version"}], the version as the store's integer.
    assert c.get_logged_model(model.model_id).tags["mlflow.modelVersions"] == json.dumps(
        [{"name": first, "version": 1}])
    c.create_model_version(second, f"models:/{model.model_id}", model_id=model.model_id)
    c.create_model_version(second, f"models:/{model.model_id}", model_id=model.model_id)
    assert _versions_tag(c, model.model_id) == [
        {"name": first, "version": 1}, {"name": second, "version": 1}, {"name": second, "version": 2}]
    assert "mlflow.modelVersions" not in c.get_logged_model(other.model_id).tags
    run_id = c.create_run(exp).info.run_id  # a version from a run's files tags no logged model
    c.create_model_version(first, f"runs:/{run_id}/model", run_id=run_id)
    assert len(_versions_tag(c, model.model_id)) == 3


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that accepts only ``runs:/`` and ``models:/`` sources."""
    folder = tmp_path_factory.mktemp("strict-sources")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELYARD_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX", r"^(runs|models):/")
        server = LiveServer(f"sqlite:///{folder / 'db.sqlite'}", str(folder / "artifacts"))
    yield server
    server.stop()


def test_the_source_regex_refuses_other_sources_with_mlflows_error(strict_server, monkeypatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    c = MlflowClient(strict_server.url)
    name = unique()
    c.create_registered_model(name)
    run = c.create_run("0")
    source = f"{run.info.artifact_uri}/model"
    with pytest.raises(MlflowException) as info:
        c.create_model_version(name, source, run_id=run.info.run_id)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == f"INVALID_PARAMETER_VALUE: Invalid model version source: '{source}'."
    assert c.search_model_versions(f"name = '{name}'") == []
    assert c.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version == "1"


def test_mlflows_variable_is_honoured_and_ours_wins(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX", r"^s3://models/")
    svc = make_service(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    try:
        svc.registry.create_registered_model("m")
        with pytest.raises(InvalidParameterValue, match=r"^Invalid model version source: 'runs:/abc/model'\.$"):
            svc.registry.create_model_version("m", "runs:/abc/model", run_id="abc")
        assert svc.registry.create_model_version("m", "s3://models/m/1").version == "1"
    finally:
        svc.close()
    ours = make_service(f"sqlite:///{tmp_path / 'b.db'}", tmp_path,
                        create_model_version_source_validation_regex=r"^s3://other/")
    try:
        ours.registry.create_registered_model("m")
        with pytest.raises(InvalidParameterValue, match="Invalid model version source"):
            ours.registry.create_model_version("m", "s3://models/m/1")
    finally:
        ours.close()
    with pytest.raises(ValueError, match="not a valid regular expression"):
        make_service(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, create_model_version_source_validation_regex="(")

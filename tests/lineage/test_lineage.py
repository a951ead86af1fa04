"""Lineage of a registered model version: run, code, datasets, parent (pipeline) runs."""

from __future__ import annotations

import json

import pytest

import modelyard.models as mm
from modelyard.client import Client
from modelyard.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from modelyard.errors import InvalidParameterValue
from tests.cli.conftest import cli, client, folder  # noqa: F401  (fixtures)

COMMIT = "4f1c2e9d0b7a"


def _pipeline(c: Client) -> tuple[str, str, str]:
    """A pipeline run whose "train" step run logged params, metrics, code tags and a dataset; registered."""
    exp = c.create_experiment("churn")
    pipeline = c.create_run(exp, run_name="weekly-retrain", tags={"modelyard.pipeline": "retrain"}).info.run_id
    train = c.create_run(exp, run_name="train", tags={
        "mlflow.parentRunId": pipeline, "mlflow.source.git.commit": COMMIT,
        "mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL"}).info.run_id
    c.log_batch(train, metrics=[Metric("auc", 0.91, 1, 0)], params=[Param("max_depth", "6")],
                tags=[RunTag("team", "risk")])
    c.log_inputs(train, [
        DatasetInput(Dataset("customers", "d1g3st", "s3", '{"uri": "s3://b/customers.parquet"}'),
                     [InputTag("mlflow.data.context", "training")]),
        DatasetInput(Dataset("holdout", "h0ld", "s3", '{"uri": "s3://b/holdout.parquet"}'),
                     [InputTag("mlflow.data.context", "validation")]),
    ])
    c.create_registered_model("churn")
    mv = c.create_model_version("churn", f"runs:/{train}/model", run_id=train)
    c.set_registered_model_alias("churn", "champion", mv.version)
    return pipeline, train, mv.version


def _check(tree: mm.ModelLineage, pipeline: str, train: str) -> None:
    assert (tree.name, tree.version, tree.aliases) == ("churn", "1", ["champion"])
    run = tree.run
    assert run is not None and run.run_id == train
    assert (run.params, run.metrics["auc"], run.tags["team"]) == ({"max_depth": "6"}, 0.91, "risk")
    assert (run.git_commit, run.source_name, run.entry_point) == (COMMIT, "train.py", "train.py")
    assert sorted((d.name, d.digest, d.context) for d in run.datasets) == [
        ("customers", "d1g3st", "training"), ("holdout", "h0ld", "validation")]
    assert run.parent is not None and (run.parent.run_id, run.parent.run_name) == (pipeline, "weekly-retrain")
    assert run.parent.tags["modelyard.pipeline"] == "retrain" and run.parent.parent is None
    assert [a.run_id for a in run.ancestors()] == [pipeline]
    d = tree.to_dict()
    json.dumps(d)
    assert d["run"]["source"]["git_commit"] == COMMIT and d["run"]["parent"]["run_id"] == pipeline
    assert d["run"]["datasets"][0]["source_type"] == "s3"


def test_lineage_embedded_and_cli(client: Client, cli):  # noqa: F811
    pipeline, train, _ = _pipeline(client)
    _check(mm.lineage("models:/churn@champion", client=client), pipeline, train)
    _check(mm.lineage("models:/churn/1"), pipeline, train)  # the SDK's default store (./.modelyard)
    out = cli("models", "lineage", "models:/churn@champion", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["run"]["parent"]["run_name"] == "weekly-retrain"
    text = cli("models", "lineage", "models:/churn/None")
    assert text.exit_code == 0, text.output
    for fragment in ("churn version 1", COMMIT, "train.py", "customers", "training", "max_depth", "weekly-retrain"):
        assert fragment in text.output
    with pytest.raises(InvalidParameterValue, match="registered model URI"):
        mm.lineage(f"runs:/{train}/model", client=client)


def test_lineage_over_http(live_server):
    with Client(live_server.url) as c:
        pipeline, train, version = _pipeline(c)
        _check(mm.lineage("models:/churn@champion", client=c), pipeline, train)
        c.delete_run(pipeline)  # a deleted parent is still part of the history
        assert mm.lineage(f"models:/churn/{version}", client=c).run.parent.run_id == pipeline


def test_version_without_run(client: Client, cli):  # noqa: F811
    client.create_registered_model("bare")
    client.create_model_version("bare", "s3://bucket/models/bare")
    tree = mm.lineage("models:/bare/1", client=client)
    assert (tree.source, tree.run) == ("s3://bucket/models/bare", None)
    assert "No run recorded" in cli("models", "lineage", "models:/bare/1").output

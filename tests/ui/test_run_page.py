"""The run page lists the models logged from the run: MLflow 3's logged models and log-model history."""

from __future__ import annotations

import json

from modelyard.entities import RunTag


def test_models_logged_from_a_run_are_listed(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    run_id = s.runs["forest-c"]
    logged = svc.logged_models.create(s.experiment_id, "forest-model", source_run_id=run_id, model_type="sklearn")
    svc.logged_models.create(s.experiment_id, "elsewhere", source_run_id=s.runs["tree-a"])
    history = [{"run_id": run_id, "artifact_path": "legacy", "flavors": {"python_function": {}, "sklearn": {}}},
               {"run_id": run_id, "artifact_path": "legacy", "flavors": {}}, "garbage"]
    svc.runs.set_tag(run_id, RunTag("mlflow.log-model.history", json.dumps(history)))
    html = client.get(f"/runs/{run_id}").text
    section = html[html.index('id="logged-models"'):html.index('<section id="models"')]
    assert "forest-model" in section and logged.model_id in section and "elsewhere" not in section
    assert f'href="/runs/{run_id}?artifact=legacy/MLmodel#artifacts">legacy</a>' in section
    assert section.count(">legacy</a>") == 1 and '<span class="chip">sklearn</span>' in section
    assert ">python_function<" not in section

    svc.runs.set_tag(run_id, RunTag("mlflow.log-model.history", "not json"))
    empty = client.get(f"/runs/{s.runs['linear-b']}").text
    assert 'my.models.log_model(model, "model")' in empty
    assert client.get(f"/runs/{run_id}").status_code == 200

"""``modelyard predict`` equals online predictions; ``modelyard serve --export`` writes valid files."""

from __future__ import annotations

import json
import os
import sys

import httpx
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from modelyard.cli import main
from tests.conftest import free_port

from .conftest import ServeProcess


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_batch_predict_equals_online(served, registered, tmp_path, fmt):
    frame = registered.frame
    src = tmp_path / f"in.{fmt}"
    frame.to_parquet(src) if fmt == "parquet" else frame.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(main, ["predict", registered.uri(), "--input", str(src), "--output", str(out),
                                       "--chunk-rows", "100", "--tracking-uri", registered.tracking_uri])
    assert result.exit_code == 0, result.output
    batch = pd.read_parquet(out)["prediction"].tolist()
    online = httpx.post(served.url + "/invocations", timeout=30, json={
        "dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}).json()["predictions"]
    assert len(batch) == len(frame) == 569
    assert batch == online


def test_batch_predict_reports_bad_columns(registered, tmp_path):
    src = tmp_path / "bad.csv"
    registered.frame.drop(columns=["mean radius"]).to_csv(src, index=False)
    result = CliRunner().invoke(main, ["predict", registered.uri(), "-i", str(src), "-o", str(tmp_path / "o.csv"),
                                       "--tracking-uri", registered.tracking_uri])
    assert result.exit_code == 1 and "mean radius" in result.output


def _dockerfile(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            instr, _, rest = line.partition(" ")
            out.append((instr, rest))
    return out


def test_export_docker_and_k8s(registered, tmp_path):
    runner = CliRunner()
    docker_dir, k8s_dir = tmp_path / "docker", tmp_path / "k8s"
    for kind, where in (("docker", docker_dir), ("k8s", k8s_dir)):
        result = runner.invoke(main, ["serve", registered.uri(), "--export", kind, str(where),
                                      "--tracking-uri", registered.tracking_uri])
        assert result.exit_code == 0, result.output

    steps = _dockerfile((docker_dir / "Dockerfile").read_text())
    instructions = [i for i, _ in steps]
    assert instructions[0] == "FROM" and steps[0][1].startswith("python:3.")
    assert instructions[-1] == "CMD" and {"EXPOSE", "HEALTHCHECK", "USER", "RUN", "COPY"} <= set(instructions)
    assert all(i in {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "CMD"} for i in instructions)
    requirements = (docker_dir / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("modelyard") for r in requirements) and any(r.startswith("skops==") for r in requirements)
    cmd = json.loads(steps[-1][1])
    assert cmd[:3] == ["modelyard", "serve", registered.uri()]

    deployment = yaml.safe_load((k8s_dir / "deployment.yaml").read_text())
    service = yaml.safe_load((k8s_dir / "service.yaml").read_text())
    assert deployment["kind"] == "Deployment" and deployment["apiVersion"] == "apps/v1"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["ports"][0]["containerPort"] == 8080
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels == service["spec"]["selector"]
    assert service["kind"] == "Service" and service["spec"]["ports"][0]["targetPort"] == "http"

    # The image's command, run outside a container (the console script replaced by this interpreter).
    argv = [sys.executable, "-m", "modelyard.cli", *cmd[1:]]
    port = argv.index("--port") + 1
    p = free_port()
    argv[port] = str(p)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    proc = ServeProcess("", "", argv=argv, port=p, env={"MODELYARD_TRACKING_URI": registered.tracking_uri})
    try:
        resp = httpx.post(proc.url + "/invocations", json={"instances": registered.frame.iloc[:1].values.tolist()})
        assert resp.status_code == 200 and resp.headers["x-model-version"] == "1"
    finally:
        proc.stop()


def test_export_docker_of_a_local_model(registered, tmp_path):
    import modelyard as my

    model_dir = tmp_path / "m"
    my.models.save_model(registered.versions[1], str(model_dir), input_example=registered.frame.iloc[:2])
    out = tmp_path / "img"
    result = CliRunner().invoke(main, ["serve", str(model_dir), "--export", "docker", str(out),
                                       "--tracking-uri", registered.tracking_uri])
    assert result.exit_code == 0, result.output
    text = (out / "Dockerfile").read_text()
    assert "COPY model/ /opt/modelyard/model/" in text and os.path.isfile(out / "model" / "MLmodel")

"""Downloads as attachments, and the file routes MLflow's web UI calls, driven with the real client.

MLflow's server sends every artifact download with ``Content-Disposition: attachment;
filename=...`` (an RFC 5987 ``filename*`` beside an ASCII fallback for other names) and serves
``get-artifact``, ``model-versions/get-artifact`` and ``ajax-api/.../upload-artifact``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelyard.server.routes.artifacts import content_disposition

from .conftest import assert_error, unique

# What MLflow 3.17's server answers for these names (mlflow.server.handlers._content_disposition_attachment).
DISPOSITIONS = {
    "plain.csv": "attachment; filename=plain.csv",
    "report v1.txt": 'attachment; filename="report v1.txt"',
    'say "hi".txt': 'attachment; filename="say \\"hi\\".txt"',
    "résumé 日本.txt": "attachment; filename=\"resume .txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.txt",
    "日本語": "attachment; filename=download; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E",
}


@pytest.mark.parametrize("name", list(DISPOSITIONS))
def test_content_disposition_is_mlflows(name: str) -> None:
    assert content_disposition(f"folder/{name}") == DISPOSITIONS[name]


def test_content_disposition_drops_control_characters() -> None:
    assert content_disposition("a\r\nb.txt") == "attachment; filename=ab.txt"


def test_proxy_downloads_are_attachments(http: httpx.Client) -> None:
    folder = unique("cd")
    for name, expected in DISPOSITIONS.items():
        url = f"/api/2.0/mlflow-artifacts/artifacts/{folder}/{name}"
        assert http.put(url, content=name.encode()).status_code == 200
        got = http.get(url)
        assert got.status_code == 200 and got.content == name.encode()
        assert got.headers["content-disposition"] == expected
        assert got.headers["x-content-type-options"] == "nosniff"


def _logged_run(client: Any) -> str:
    import mlflow

    mlflow.set_experiment(unique("files"))
    with mlflow.start_run() as run:
        mlflow.log_text("hello from mlflow", "notes/hello.txt")
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    return str(run.info.run_id)


@pytest.mark.parametrize("prefix", ["", "/ajax-api/2.0/mlflow"])
def test_get_artifact_serves_what_the_mlflow_client_logged(client: Any, http: httpx.Client, prefix: str) -> None:
    rid = _logged_run(client)
    for key in ("run_id", "run_uuid"):
        got = http.get(f"{prefix}/get-artifact", params={key: rid, "path": "notes/hello.txt"})
        assert got.status_code == 200, got.text
        assert got.text == "hello from mlflow"
        assert got.headers["content-disposition"] == "attachment; filename=hello.txt"
    missing = http.get(f"{prefix}/get-artifact", params={"run_id": rid, "path": "notes/absent.txt"})
    assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.get(f"{prefix}/get-artifact", params={"run_id": rid}), 400, "INVALID_PARAMETER_VALUE",
                 mentions="path")
    assert_error(http.get(f"{prefix}/get-artifact", params={"run_id": rid, "path": "../x"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="Invalid path")


def test_upload_artifact_is_read_back_by_the_mlflow_client(client: Any, http: httpx.Client) -> None:
    import mlflow

    rid = _logged_run(client)
    url = "/ajax-api/2.0/mlflow/upload-artifact"
    r = http.post(url, params={"run_uuid": rid, "path": "ui/uploaded.txt"}, content=b"from the web UI",
                  headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert mlflow.artifacts.load_text(f"runs:/{rid}/ui/uploaded.txt") == "from the web UI"
    assert [f.path for f in client.list_artifacts(rid, "ui")] == ["ui/uploaded.txt"]
    assert_error(http.post(url, params={"run_uuid": rid, "path": "ui/empty.txt"}, content=b""), 400,
                 "INVALID_PARAMETER_VALUE", mentions="data")
    assert_error(http.post(url, params={"path": "x.txt"}, content=b"x"), 400, "INVALID_PARAMETER_VALUE",
                 mentions="run_uuid")
    assert_error(http.post(url, params={"run_uuid": rid}, content=b"x"), 400, "INVALID_PARAMETER_VALUE",
                 mentions="path")
    assert [f.path for f in client.list_artifacts(rid, "ui")] == ["ui/uploaded.txt"]


@pytest.mark.parametrize("prefix", ["", "/ajax-api/2.0/mlflow"])
def test_model_version_get_artifact(client: Any, http: httpx.Client, prefix: str) -> None:
    rid = _logged_run(client)
    name = unique("model")
    client.create_registered_model(name)
    mv = client.create_model_version(name, source=f"runs:/{rid}/model", run_id=rid)
    got = http.get(f"{prefix}/model-versions/get-artifact", params={"name": name, "version": mv.version,
                                                                    "path": "MLmodel"})
    assert got.status_code == 200, got.text
    assert got.text == "flavors: {}\n"
    assert got.headers["content-disposition"] == "attachment; filename=MLmodel"
    absent = http.get(f"{prefix}/model-versions/get-artifact", params={"name": name, "version": "9", "path": "MLmodel"})
    assert_error(absent, 404, "RESOURCE_DOES_NOT_EXIST")


def test_logged_model_downloads_are_attachments(client: Any, http: httpx.Client) -> None:
    import mlflow

    mlflow.set_experiment(unique("logged"))
    model = mlflow.initialize_logged_model(name="m")
    rel = model.artifact_location.removeprefix("mlflow-artifacts:/")
    assert http.put(f"/api/2.0/mlflow-artifacts/artifacts/{rel}/weights v2.bin", content=b"\x00\x01").status_code == 200
    got = http.get(f"/api/2.0/mlflow/logged-models/{model.model_id}/artifacts/files",
                   params={"artifact_file_path": "weights v2.bin"})
    assert got.status_code == 200 and got.content == b"\x00\x01"
    assert got.headers["content-disposition"] == 'attachment; filename="weights v2.bin"'

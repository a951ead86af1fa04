"""Artifacts through the ``mlflow-artifacts`` proxy: log, list, download, load, delete, and path escapes."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import assert_error, unique


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture
def run(client):
    import mlflow

    mlflow.set_experiment(unique("art"))
    with mlflow.start_run() as active:
        yield active


def test_log_and_read_back(client, run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    rid = run.info.run_id
    report = tmp_path / "report.html"
    report.write_text("<h1>report</h1>")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    mlflow.log_artifact(str(report))
    mlflow.log_artifact(str(report), artifact_path="reports")
    mlflow.log_artifacts(str(folder), artifact_path="data")
    mlflow.log_text("héllo wörld", "notes/notes.txt")
    mlflow.log_dict({"lr": 0.1, "layers": [1, 2]}, "cfg.json")
    mlflow.log_dict({"a": 1}, "cfg.yaml")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    mlflow.log_figure(fig, "plots/fig.png")
    plt.close(fig)

    top = {(f.path, f.is_dir) for f in client.list_artifacts(rid)}
    assert top == {("report.html", False), ("reports", True), ("data", True), ("notes", True),
                   ("cfg.json", False), ("cfg.yaml", False), ("plots", True)}
    sizes = {f.path: f.file_size for f in client.list_artifacts(rid, "data/sub")}
    assert sizes == {"data/sub/b.bin": 25600}
    assert [f.path for f in client.list_artifacts(rid, "data")] == ["data/a.txt", "data/sub"]
    assert client.list_artifacts(rid, "nothing/here") == []

    base = f"runs:/{rid}"
    assert mlflow.artifacts.load_text(f"{base}/notes/notes.txt") == "héllo wörld"
    assert mlflow.artifacts.load_dict(f"{base}/cfg.json") == {"lr": 0.1, "layers": [1, 2]}
    assert mlflow.artifacts.load_text(f"{base}/cfg.yaml").strip() == "a: 1"
    local = client.download_artifacts(rid, "data", str(tmp_path / "dl"))
    assert _read(os.path.join(local, "sub", "b.bin")) == bytes(range(256)) * 100
    assert _read(os.path.join(local, "a.txt")) == b"A"
    everything = mlflow.artifacts.download_artifacts(run_id=rid, dst_path=str(tmp_path / "all"))
    assert _read(os.path.join(everything, "reports", "report.html")) == b"<h1>report</h1>"
    png = _read(os.path.join(everything, "plots", "fig.png"))
    assert png.startswith(b"\x89PNG")


def test_raw_proxy_routes_and_delete(client, run, http):
    import mlflow

    rid = run.info.run_id
    mlflow.log_text("x", "d/one.txt")
    mlflow.log_text("y", "d/two.txt")
    root = f"{run.info.experiment_id}/{rid}/artifacts"
    listing = http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/d"}).json()
    assert listing["files"] == [{"path": "one.txt", "is_dir": False, "file_size": 1},
                                {"path": "two.txt", "is_dir": False, "file_size": 1}]
    r = http.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/d/one.txt")
    assert r.status_code == 200 and r.content == b"x"
    listed = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": rid, "path": "d"}).json()
    assert listed["root_uri"] == run.info.artifact_uri
    assert [f["path"] for f in listed["files"]] == ["d/one.txt", "d/two.txt"]

    assert http.delete(f"/api/2.0/mlflow-artifacts/artifacts/{root}/d/one.txt").status_code == 200
    assert [f.path for f in client.list_artifacts(rid, "d")] == ["d/two.txt"]
    assert_error(http.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/d/one.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.delete(f"/api/2.0/mlflow-artifacts/artifacts/{root}/d/one.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert http.delete(f"/api/2.0/mlflow-artifacts/artifacts/{root}/d").status_code == 200
    assert client.list_artifacts(rid, "d") == []

    r = http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/raw/upload.bin", content=b"\x00\x01\x02")
    assert r.status_code == 200, r.text
    assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/raw/upload.bin").content == b"\x00\x01\x02"


@pytest.mark.parametrize(
    "path",
    ["%2E%2E/%2E%2E/escape.txt", "1/%2E%2E/%2E%2E/%2E%2E/escape.txt", "%2Fetc%2Fpasswd", "a/%2E%2E/%2E%2E/b",
     "..%5C..%5Cwin.txt"],
)
def test_escaping_paths_are_rejected(http, server, path):
    for method in ("PUT", "GET", "DELETE"):
        r = http.request(method, f"/api/2.0/mlflow-artifacts/artifacts/{path}", content=b"evil")
        assert r.status_code == 400, (method, path, r.status_code, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    root = os.path.dirname(server.root)  # the escape would land beside the server's own folder
    assert not any("escape" in f or "win.txt" in f for _, _, files in os.walk(root) for f in files)


@pytest.mark.parametrize("path", ["../..", "/etc", "a/../../b", "C:/windows"])
def test_escaping_list_paths_are_rejected(http, client, path):
    rid = client.create_run(client.create_experiment(unique())).info.run_id
    assert_error(http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": rid, "path": path}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": path}), 400, "INVALID_PARAMETER_VALUE")


def test_client_refuses_escaping_artifact_path(client, run, tmp_path):
    import mlflow

    f = tmp_path / "x.txt"
    f.write_text("x")
    with pytest.raises(Exception):  # noqa: B017 - the client or the server refuses, either is fine
        mlflow.log_artifact(str(f), artifact_path="../../outside")
    assert all(".." not in a.path for a in client.list_artifacts(run.info.run_id))


def test_list_artifacts_of_missing_run(http):
    assert_error(http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_json_artifact_is_served_as_is(client, run, http):
    import mlflow

    mlflow.log_dict({"k": [1, 2, 3]}, "x.json")
    root = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    r = http.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/x.json")
    assert json.loads(r.content) == {"k": [1, 2, 3]}


def test_artifact_downloads_cannot_run_script_on_our_origin(server):
    """An uploaded HTML or SVG file comes back as inert text, sandboxed."""
    import httpx

    base = server.url + "/api/2.0/mlflow-artifacts/artifacts"
    for name in ("evil.html", "evil.svg"):
        assert httpx.put(f"{base}/x/{name}", content=b"<script>alert(1)</script>").status_code == 200
        got = httpx.get(f"{base}/x/{name}")
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/plain")
        assert got.headers["content-security-policy"] == "sandbox"
        assert got.headers["x-content-type-options"] == "nosniff"

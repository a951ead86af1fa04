"""The S3 repository against a real S3 server (rclone), alone and behind ``modelyard server``."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

import modelyard
from modelyard.artifacts import get_repository
from modelyard.artifacts import s3 as s3_module
from modelyard.artifacts.s3 import S3ArtifactRepository, S3Options, s3_options
from modelyard.errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
)

from .conftest import S3Bucket, free_port

# ---- configuration -------------------------------------------------------------


def test_get_repository_routes_s3_uris() -> None:
    repo = get_repository("s3://bucket/some/prefix/")
    assert isinstance(repo, S3ArtifactRepository)
    assert (repo.bucket, repo.prefix, repo.root_uri) == ("bucket", "some/prefix", "s3://bucket/some/prefix")
    assert get_repository("s3://bucket").prefix == ""


@pytest.mark.parametrize("uri", ["s3://", "s3:///prefix", "s3://bucket/../x"])
def test_invalid_s3_uris(uri: str) -> None:
    with pytest.raises(InvalidParameterValue):
        S3ArtifactRepository(uri)


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL": "http://generic"}, "http://generic"),
        ({"AWS_ENDPOINT_URL": "http://generic", "AWS_ENDPOINT_URL_S3": "http://s3only"}, "http://s3only"),
        ({"AWS_ENDPOINT_URL_S3": "http://s3only", "MLFLOW_S3_ENDPOINT_URL": "http://mlflow"}, "http://mlflow"),
    ],
)
def test_endpoint_precedence(env: dict[str, str], endpoint: str | None) -> None:
    assert s3_options(env).endpoint_url == endpoint


def test_mlflow_tls_and_upload_options() -> None:
    opts = s3_options({"MLFLOW_S3_IGNORE_TLS": "true", "MLFLOW_S3_UPLOAD_EXTRA_ARGS": '{"ACL": "private"}'})
    assert not opts.verify_tls
    assert opts.upload_extra_args == '{"ACL": "private"}'
    assert s3_options({}).verify_tls
    with pytest.raises(InvalidParameterValue, match="MLFLOW_S3_UPLOAD_EXTRA_ARGS"):
        s3_options({"MLFLOW_S3_UPLOAD_EXTRA_ARGS": "[1]"})


def test_client_is_made_lazily_and_shared(s3_bucket: S3Bucket) -> None:
    a = S3ArtifactRepository(s3_bucket.uri("a"))
    b = S3ArtifactRepository(s3_bucket.uri("b"))
    assert a._client is None  # nothing is built or read until first use
    assert a.client is b.client
    config = a.client.meta.config
    assert config.s3["addressing_style"] == "path"  # an endpoint is set
    assert a.client.meta.endpoint_url == s3_bucket.server.endpoint
    assert a.client.meta.region_name == "us-east-1"


def test_no_endpoint_means_aws_with_virtual_hosts(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    repo = S3ArtifactRepository("s3://bucket/x")
    assert repo.options.endpoint_url is None
    assert repo.client.meta.region_name == "eu-west-3"
    assert "amazonaws.com" in repo.client.meta.endpoint_url
    assert (repo.client.meta.config.s3 or {}).get("addressing_style") != "path"


# ---- behaviour on the real server --------------------------------------------------


def test_objects_land_under_the_prefix(s3_bucket: S3Bucket) -> None:
    repo = get_repository(s3_bucket.uri("exp/1"))
    repo.put("run/artifacts/model/MLmodel", io.BytesIO(b"flavors: {}"))
    on_disk = s3_bucket.path / "exp" / "1" / "run" / "artifacts" / "model" / "MLmodel"
    assert on_disk.read_bytes() == b"flavors: {}"


def test_repository_at_the_bucket_root(s3_bucket: S3Bucket) -> None:
    repo = get_repository(s3_bucket.uri())
    repo.put("a/b.txt", io.BytesIO(b"1"))
    repo.put("c.txt", io.BytesIO(b"22"))
    assert [(f.path, f.is_dir, f.file_size) for f in repo.list()] == [("a", True, None), ("c.txt", False, 2)]
    assert [f.path for f in repo.list("a")] == ["a/b.txt"]
    repo.delete("a")
    assert [f.path for f in repo.list()] == ["c.txt"]


def test_content_type_and_extra_upload_args(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", '{"Metadata": {"team": "ml"}}')
    repo = get_repository(s3_bucket.uri("p"))
    repo.put("report.html", io.BytesIO(b"<p>hi</p>"))
    head = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key="p/report.html")
    assert head["ContentType"] == "text/html"
    assert {k.lower(): v for k, v in head["Metadata"].items()} == {"team": "ml"}  # rclone capitalises keys


def test_folder_marker_objects_are_not_listed_as_children(s3_bucket: S3Bucket) -> None:
    # Consoles and other tools create empty "folder/" keys; they are not files.
    s3_bucket.server.client().put_object(Bucket=s3_bucket.name, Key="p/d/x.txt", Body=b"x")
    repo = get_repository(s3_bucket.uri("p"))
    assert [f.path for f in repo.list("d")] == ["d/x.txt"]


def test_delete_batches_and_pages(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 3)  # 10 objects: 4 list pages, 4 DeleteObjects
    repo = get_repository(s3_bucket.uri("p"))
    for i in range(10):
        repo.put(f"many/{i // 4}/f{i}.txt", io.BytesIO(b"x"))
    repo.put("keep.txt", io.BytesIO(b"k"))
    calls: list[int] = []
    real = repo.client.delete_objects

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(kwargs["Delete"]["Objects"]))
        return real(**kwargs)

    monkeypatch.setattr(repo.client, "delete_objects", spy)
    repo.delete("many")
    assert calls == [3, 3, 3, 1]
    assert [f.path for f in repo.list()] == ["keep.txt"]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """List 3 keys a page; records which listing ran for each page ("delimited" or "flat")."""
    monkeypatch.setattr(s3_module, "_LIST_PAGE", 3)
    seen: list[str] = []
    real = S3ArtifactRepository._pages

    def pages(self, **kwargs):  # type: ignore[no-untyped-def]
        for page in real(self, **kwargs):
            seen.append("delimited" if "Delimiter" in kwargs else "flat")
            yield page

    monkeypatch.setattr(S3ArtifactRepository, "_pages", pages)
    return seen


def test_list_pages_through_a_large_folder(s3_bucket: S3Bucket, small_pages: list[str]) -> None:
    repo = get_repository(s3_bucket.uri("p"))
    for i in range(8):
        repo.put(f"d/f{i}.txt", io.BytesIO(b"x" * i))
    assert [(f.path, f.file_size) for f in repo.list("d")] == [(f"d/f{i}.txt", i) for i in range(8)]
    assert small_pages == ["delimited"] * 3


def test_list_survives_servers_whose_pages_cycle(s3_bucket: S3Bucket, small_pages: list[str]) -> None:
    # rclone serve s3 puts folders before files in delimited pages, so its markers cycle.
    repo = get_repository(s3_bucket.uri("p"))
    for i in range(7):
        repo.put(f"d/f{i}.txt", io.BytesIO(b"x"))
        repo.put(f"d/sub{i}/g.txt", io.BytesIO(b"y"))
        repo.put(f"d/sub{i}/h.txt", io.BytesIO(b"z"))
    listed = repo.list("d")
    assert [(f.path, f.is_dir) for f in listed] == sorted(
        [(f"d/f{i}.txt", False) for i in range(7)] + [(f"d/sub{i}", True) for i in range(7)]
    )
    assert all(f.file_size == 1 for f in listed if not f.is_dir)
    assert "delimited" in small_pages  # tried first...
    if "flat" in small_pages:  # ...and on a server that cycles, fell back to a flat listing
        assert small_pages[-1] == "flat"


def test_missing_bucket(rclone_s3: object, s3_bucket: S3Bucket) -> None:
    repo = get_repository("s3://no-such-bucket-here/p")
    with pytest.raises(ResourceDoesNotExist, match="bucket"):
        repo.list()
    with pytest.raises(ResourceDoesNotExist):
        repo.open("x")


def test_wrong_credentials_are_permission_denied(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    repo = get_repository(s3_bucket.uri("p"))
    with pytest.raises(PermissionDenied):
        repo.put("x.txt", io.BytesIO(b"x"))


def test_unreachable_endpoint_is_temporarily_unavailable(s3_bucket: S3Bucket) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there once the probe socket is closed
    repo = S3ArtifactRepository(s3_bucket.uri("p"), S3Options(endpoint_url=nobody))
    with pytest.raises(TemporarilyUnavailable):
        repo.list()


# ---- end to end through modelyard server ----------------------------------------------


def _mlflow_client(url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # mlflow-artifacts:/ URIs resolve against it
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def test_proxied_artifacts_land_in_s3(
    s3_bucket: S3Bucket, s3_server_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    server = s3_server_factory("--artifacts-destination", s3_bucket.uri("proxy"))
    # The clients below go through the server only: they need no S3 access of their own.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "clients-do-not-use-this")

    client = modelyard.Client(server.url)
    exp_id = client.create_experiment("s3-proxy")
    assert client.get_experiment(exp_id).artifact_location.startswith("mlflow-artifacts:")
    run_id = client.create_run(exp_id).info.run_id
    client.log_text(run_id, "hello s3", "notes/hello.txt")
    src = tmp_path / "weights.bin"
    src.write_bytes(bytes(range(256)) * 100)
    client.log_artifact(run_id, str(src), "model")
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [("model", True), ("notes", True)]
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "model")] == [("model/weights.bin", 25600)]
    out = client.download_artifacts(run_id, "model", str(tmp_path / "dl"))
    assert Path(out, "weights.bin").read_bytes() == src.read_bytes()
    assert client.load_text(run_id, "notes/hello.txt") == "hello s3"

    stored = s3_bucket.path / "proxy" / exp_id / run_id / "artifacts"
    assert (stored / "notes" / "hello.txt").read_text() == "hello s3"
    assert (stored / "model" / "weights.bin").read_bytes() == src.read_bytes()

    # The official MLflow client, unchanged, through the same proxy.
    ml = _mlflow_client(server.url, monkeypatch)
    ml_run = ml.create_run(exp_id).info.run_id
    ml.log_text(ml_run, "from mlflow", "mlflow/note.txt")
    ml.log_artifact(ml_run, str(src), "model")
    assert [f.path for f in ml.list_artifacts(ml_run)] == ["mlflow", "model"]
    assert [(f.path, f.file_size) for f in ml.list_artifacts(ml_run, "model")] == [("model/weights.bin", 25600)]
    dl = ml.download_artifacts(ml_run, "mlflow/note.txt", str(tmp_path / "ml"))
    assert Path(dl).read_text() == "from mlflow"
    stored = s3_bucket.path / "proxy" / exp_id / ml_run / "artifacts"
    assert (stored / "mlflow" / "note.txt").read_text() == "from mlflow"
    assert (stored / "model" / "weights.bin").read_bytes() == src.read_bytes()
    # Both kinds of client see each other's files.
    assert client.load_text(ml_run, "mlflow/note.txt") == "from mlflow"


def test_proxy_refuses_escapes_and_reports_missing(s3_bucket: S3Bucket, s3_server_factory) -> None:  # type: ignore[no-untyped-def]
    server = s3_server_factory("--artifacts-destination", s3_bucket.uri("proxy"))
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    for bad in ("a/%2E%2E/%2E%2E/outside.txt", "%2E%2E/outside.txt", "%2Fabs.txt"):
        resp = httpx.put(f"{base}/{bad}", content=b"x")
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    resp = httpx.get(f"{base}/0/missing.txt")
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert sorted(p.name for p in s3_bucket.path.iterdir()) == []


def test_direct_access_with_no_serve_artifacts(
    s3_bucket: S3Bucket, s3_server_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    server = s3_server_factory(
        "--no-serve-artifacts", "--default-artifact-root", s3_bucket.uri("direct"),
        "--artifacts-destination", str(tmp_path / "unused"),
    )
    client = modelyard.Client(server.url)
    exp_id = client.create_experiment("s3-direct")
    assert client.get_experiment(exp_id).artifact_location == s3_bucket.uri(f"direct/{exp_id}")
    run = client.create_run(exp_id)
    assert run.info.artifact_uri == s3_bucket.uri(f"direct/{exp_id}/{run.info.run_id}/artifacts")
    assert isinstance(client._repo(run.info.run_id), S3ArtifactRepository)  # no detour through the server
    client.log_text(run.info.run_id, "direct", "d/t.txt")
    stored = s3_bucket.path / "direct" / exp_id / run.info.run_id / "artifacts"
    assert (stored / "d" / "t.txt").read_text() == "direct"
    # The server lists the same S3 folder for /artifacts/list.
    listing = httpx.get(
        f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": run.info.run_id, "path": "d"}
    ).json()
    assert listing["root_uri"] == run.info.artifact_uri
    assert listing["files"] == [{"path": "d/t.txt", "is_dir": False, "file_size": 6}]
    # ...and the proxy is off.
    assert httpx.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": ""}).status_code == 404

    # The official MLflow client writes with its own S3 repository (MLFLOW_S3_ENDPOINT_URL)...
    ml = _mlflow_client(server.url, monkeypatch)
    ml_run = ml.create_run(exp_id).info.run_id
    ml.log_text(ml_run, "written by mlflow", "m/n.txt")
    # ...and modelyard reads it back from the same place.
    assert client.load_text(ml_run, "m/n.txt") == "written by mlflow"
    assert [f.path for f in ml.list_artifacts(run.info.run_id, "d")] == ["d/t.txt"]

"""Defect 2 of issue 13: any file readable through an experiment's ``artifact_location``.

The attack: ``experiments/create`` with ``"artifact_location": "file:///etc#"`` (or ``?x=``, an
encoded ``..``, ``file:///proc/self#``), then ``runs/<id>/artifacts/raw?path=passwd`` or
``artifacts/list``. The fragment or query swallowed the ``/<run>/artifacts`` suffix. Now a location
is checked when an experiment is created (400 naming ``artifact_location``) and again whenever the
server touches artifacts, so a row stored before the fix is refused (403) too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .artifact_servers import (
    StoreServer,
    assert_nothing_leaked,
    assert_refused,
    store_server,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    with store_server(request.param, tmp_path_factory.mktemp(f"locations-{request.param}")) as live:
        yield live


REFUSED_AT_CREATE = [
    "file:///etc#",
    "file:///etc?x=",
    "file:///etc/?x=1",
    "/etc#",
    "file:///etc%23",
    "file:///proc/self#",
    "file:///tmp/%2e%2e/etc",
    "file:///tmp/%252e%252e/etc",
    "/tmp/../etc",
    "file:///etc;params",
    "/etc",
    "file:///etc",
    "file:///proc/self",
    "file://evil.example/etc",
    "runs:/0123456789abcdef/artifacts",
    "http://evil.example/artifacts",
    "hdfs://evil.example/artifacts",
    "s3://somebody-elses-bucket/prefix",
    "relative/folder",
    "file:///etc\n",
]


@pytest.mark.parametrize("location", REFUSED_AT_CREATE)
def test_create_refuses_locations_outside_the_roots_or_not_plain(srv: StoreServer, location: str) -> None:
    name = f"attack-{uuid.uuid4().hex[:10]}"
    r = srv.api("POST", "/experiments/create", json={"name": name, "artifact_location": location})
    body = assert_refused(r, 400, "INVALID_PARAMETER_VALUE", str(srv.root))
    assert "artifact_location" in body["message"]
    assert srv.api("GET", "/experiments/get-by-name", params={"experiment_name": name}).status_code == 404


def test_create_refuses_a_climb_out_of_the_servers_own_root(srv: StoreServer) -> None:
    artifacts = srv.root / "artifacts"
    for location in (f"{artifacts}/../../etc", f"file://{artifacts}/%2e%2e/%2e%2e/etc", f"{artifacts}/x#"):
        r = srv.api("POST", "/experiments/create", json={"name": f"climb-{uuid.uuid4().hex[:8]}",
                                                          "artifact_location": location})
        body = assert_refused(r, 400, "INVALID_PARAMETER_VALUE", str(srv.root))
        assert "artifact_location" in body["message"]


@pytest.mark.parametrize("form", ["path", "file_uri"])
def test_create_accepts_a_location_inside_the_roots_and_serves_it(srv: StoreServer, form: str) -> None:
    folder = srv.root / "artifacts" / f"custom-{uuid.uuid4().hex[:8]}"
    location = str(folder) if form == "path" else f"file://{folder}"
    r = srv.api("POST", "/experiments/create", json={"name": f"ok-{uuid.uuid4().hex[:8]}", "artifact_location": location})
    assert r.status_code == 200, r.text
    run = srv.new_run(r.json()["experiment_id"])
    assert run["artifact_uri"] == f"{location}/{run['run_id']}/artifacts"
    on_disk = folder / run["run_id"] / "artifacts"
    on_disk.mkdir(parents=True)
    (on_disk / "notes.txt").write_text("inside the root")
    listed = srv.api("GET", "/artifacts/list", params={"run_id": run["run_id"]})
    assert listed.status_code == 200, listed.text
    assert [f["path"] for f in listed.json()["files"]] == ["notes.txt"]
    got = srv.http.get("/get-artifact", params={"run_id": run["run_id"], "path": "notes.txt"})
    assert got.status_code == 200 and got.text == "inside the root"


def _plant_experiment(srv: StoreServer, location: str) -> dict:
    """A run of an experiment whose stored location is ``location`` (as a pre-fix server accepted it)."""
    experiment_id = srv.new_experiment()
    srv.sql("UPDATE experiments SET artifact_location = :loc WHERE experiment_id = :id",
            loc=location, id=int(experiment_id))
    run = srv.new_run(experiment_id)  # the server derives the run's location from the stored row
    assert run["artifact_uri"].startswith(location)
    return run


STORED = [
    ("file:///etc#", "passwd"),
    ("file:///etc?x=", "passwd"),
    ("file:///etc/%2e%2e/etc#", "passwd"),
    ("/etc#", "passwd"),
    ("file:///proc/self#", "environ"),
]


@pytest.mark.parametrize(("location", "secret_file"), STORED)
def test_a_stored_bad_location_is_never_read(srv: StoreServer, location: str, secret_file: str) -> None:
    run = _plant_experiment(srv, location)
    rid = run["run_id"]
    api_reads = [
        ("/api/2.0/mlflow/artifacts/list", {"run_id": rid}),
        ("/api/2.0/mlflow/artifacts/list", {"run_id": rid, "path": ""}),
        ("/ajax-api/2.0/mlflow/artifacts/list", {"run_uuid": rid}),
        ("/get-artifact", {"run_id": rid, "path": secret_file}),
        ("/ajax-api/2.0/mlflow/get-artifact", {"run_uuid": rid, "path": secret_file}),
    ]
    for path, params in api_reads:
        body = assert_refused(srv.http.get(path, params=params), 403, "PERMISSION_DENIED", "/etc", "/proc")
        assert "artifact" in body["message"]
    for page in ("raw", "preview"):
        r = srv.http.get(f"/runs/{rid}/artifacts/{page}", params={"path": secret_file})
        assert r.status_code == 403, (page, r.status_code)
        assert_nothing_leaked(r)
    for page in (f"/runs/{rid}/artifacts/tree", f"/runs/{rid}"):  # the run still shows, without artifacts
        r = srv.http.get(page)
        assert r.status_code == 200, (page, r.status_code)
        assert_nothing_leaked(r)
        assert secret_file not in r.text


def test_a_stored_bad_location_is_never_written(srv: StoreServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    run = _plant_experiment(srv, f"file://{outside}#")
    r = srv.http.post("/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": run["run_id"], "path": "evil.py"},
                      content=b"print('owned')")
    assert_refused(r, 403, "PERMISSION_DENIED", str(outside))
    assert list(outside.iterdir()) == []


def test_logged_model_artifacts_of_a_stored_bad_location_are_refused(srv: StoreServer) -> None:
    experiment_id = srv.new_experiment()
    srv.sql("UPDATE experiments SET artifact_location = :loc WHERE experiment_id = :id", loc="/etc",
            id=int(experiment_id))
    r = srv.api("POST", "/logged-models", json={"experiment_id": experiment_id, "name": "m"})
    assert r.status_code == 200, r.text
    derived = r.json()["model"]["info"]["model_id"]
    planted = srv.api("POST", "/logged-models", json={"experiment_id": srv.new_experiment(), "name": "m"})
    planted_id = planted.json()["model"]["info"]["model_id"]
    srv.sql("UPDATE logged_models SET artifact_location = :loc WHERE model_id = :id",
            loc="file:///etc#", id=planted_id)
    for model_id in (derived, planted_id):
        listed = srv.api("GET", f"/logged-models/{model_id}/artifacts/directories")
        assert_refused(listed, 403, "PERMISSION_DENIED", "/etc")
        got = srv.api("GET", f"/logged-models/{model_id}/artifacts/files", params={"artifact_file_path": "passwd"})
        assert_refused(got, 403, "PERMISSION_DENIED", "/etc")


def test_model_version_files_of_a_stored_bad_source_are_refused(srv: StoreServer) -> None:
    run = _plant_experiment(srv, "file:///etc#")
    name = f"model-{uuid.uuid4().hex[:8]}"
    assert srv.api("POST", "/registered-models/create", json={"name": name}).status_code == 200
    created = srv.api("POST", "/model-versions/create",
                      json={"name": name, "source": f"runs:/{run['run_id']}/model", "run_id": run["run_id"]})
    assert created.status_code == 200, created.text
    planted = srv.api("POST", "/model-versions/create",
                      json={"name": name, "source": f"runs:/{run['run_id']}/model", "run_id": run["run_id"]})
    srv.sql("UPDATE model_versions SET source = :loc, storage_location = :loc WHERE version = :v"
            " AND registered_model_id = (SELECT id FROM registered_models WHERE name = :name)",
            loc="file:///etc", v=int(planted.json()["model_version"]["version"]), name=name)
    for version in ("1", "2"):
        for prefix in ("", "/ajax-api/2.0/mlflow"):
            r = srv.http.get(f"{prefix}/model-versions/get-artifact",
                             params={"name": name, "version": version, "path": "passwd"})
            assert_refused(r, 403, "PERMISSION_DENIED", "/etc")


def test_extra_roots_from_the_setting(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    roots = f"s3://team-bucket/mlflow,{shared}"
    with store_server("sqlite", tmp_path / "server", env={"MODELYARD_ARTIFACT_ROOTS": roots}) as live:
        for location in ("s3://team-bucket/mlflow/exp", str(shared / "exp")):
            r = live.api("POST", "/experiments/create", json={"name": unique_name(), "artifact_location": location})
            assert r.status_code == 200, r.text
        for location in ("s3://team-bucket/mlflow-other", "s3://other/mlflow", str(tmp_path)):
            r = live.api("POST", "/experiments/create", json={"name": unique_name(), "artifact_location": location})
            assert_refused(r, 400, "INVALID_PARAMETER_VALUE", str(tmp_path))
        run = _plant_experiment(live, str(shared / "planted"))  # inside a root: served
        folder = shared / "planted" / run["run_id"] / "artifacts"
        folder.mkdir(parents=True)
        (folder / "ok.txt").write_text("shared")
        assert live.http.get("/get-artifact", params={"run_id": run["run_id"], "path": "ok.txt"}).text == "shared"


def unique_name() -> str:
    return f"roots-{uuid.uuid4().hex[:10]}"

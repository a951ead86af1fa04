"""Defect 7 of issue 13, its artifact items: paths no store can hold were 500s.

An artifact path of ~2,000 components raised RecursionError (``os.makedirs`` recurses per
folder), and a 300-character file name raised ENAMETOOLONG with the absolute artifacts path in
the message. Both are now 400 INVALID_PARAMETER_VALUE, worded as MLflow's ``Invalid path`` with
our reason after it, naming the field and no server path; the connection stays usable.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.artifacts import LocalArtifactRepository
from modelyard.errors import InvalidParameterValue

from .artifact_servers import StoreServer, assert_refused, store_server

DEEP = "/".join(["d"] * 2000) + "/f.txt"
LONG_NAME = "n" * 300 + ".txt"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    """Paths never reach the store: one server, on SQLite."""
    with store_server("sqlite", tmp_path_factory.mktemp("paths")) as live:
        yield live


def _refused(srv: StoreServer, response, field: str) -> None:  # type: ignore[no-untyped-def]
    body = assert_refused(response, 400, "INVALID_PARAMETER_VALUE", str(srv.root))
    assert body["message"].startswith("Invalid path"), body
    assert field in body["message"], body
    assert srv.http.get("/health").status_code == 200  # the same connection still answers


@pytest.mark.parametrize("path", [DEEP, LONG_NAME, f"folder/{LONG_NAME}"], ids=["deep", "long-name", "long-nested"])
def test_proxy_refuses_paths_no_store_can_hold(srv: StoreServer, path: str) -> None:
    _refused(srv, srv.http.put(f"{PROXY}/{path}", content=b"x"), "artifact_path")
    _refused(srv, srv.http.get(f"{PROXY}/{path}"), "artifact_path")
    _refused(srv, srv.http.delete(f"{PROXY}/{path}"), "artifact_path")
    _refused(srv, srv.http.get(PROXY, params={"path": path}), "path")
    created = srv.http.post(f"/api/2.0/mlflow-artifacts/mpu/create/{path}", json={"path": "f.bin", "num_parts": 1})
    _refused(srv, created, "artifact_path")
    assert not any(p.name.startswith("n" * 50) for p in (srv.root / "artifacts").rglob("*"))


@pytest.mark.parametrize("path", [DEEP, LONG_NAME], ids=["deep", "long-name"])
def test_run_routes_refuse_paths_no_store_can_hold(srv: StoreServer, path: str) -> None:
    rid = srv.new_run(srv.new_experiment())["run_id"]
    _refused(srv, srv.api("GET", "/artifacts/list", params={"run_id": rid, "path": path}), "path")
    _refused(srv, srv.http.get("/get-artifact", params={"run_id": rid, "path": path}), "path")
    upload = srv.http.post("/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": rid, "path": path},
                           content=b"x")
    _refused(srv, upload, "path")


def test_a_path_too_long_for_the_file_system_names_no_absolute_path(tmp_path: Path) -> None:
    root = tmp_path.joinpath(*["r" * 200] * 18)  # ~3,600 characters: root and path pass PATH_MAX together
    root.mkdir(parents=True)
    repo = LocalArtifactRepository(str(root))
    with pytest.raises(InvalidParameterValue) as caught:
        repo.put("/".join(["p" * 200] * 4) + "/f.txt", io.BytesIO(b"x"))
    assert caught.value.message.startswith("Invalid path")
    assert str(tmp_path) not in caught.value.message

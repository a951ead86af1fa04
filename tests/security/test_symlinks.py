"""Defect 6 of issue 13: symbolic links inside the local artifact root were followed out of it.

Links that stay inside the root still work; a read, listing, write or delete that would leave the
root through a link is refused (403), and the files outside are left as they were.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.artifacts import LocalArtifactRepository
from modelyard.errors import PermissionDenied

from .artifact_servers import (
    StoreServer,
    assert_nothing_leaked,
    assert_refused,
    store_server,
)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[LocalArtifactRepository, Path, Path]:
    """A root with links out (``out`` → a folder, ``secret`` → a file) and a link within (``inner``)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "real").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the root")
    (root / "real" / "a.txt").write_text("inside")
    os.symlink(outside, root / "out")
    os.symlink(outside / "secret.txt", root / "secret")
    os.symlink(root / "real", root / "inner")
    return LocalArtifactRepository(str(root)), root, outside


def test_reads_through_a_link_out_are_refused(tree) -> None:
    repo, _root, _outside = tree
    for path in ("secret", "out/secret.txt"):
        with pytest.raises(PermissionDenied, match="Invalid path"):
            repo.read_bytes(path)
        with pytest.raises(PermissionDenied):
            repo.is_file(path)
    with pytest.raises(PermissionDenied):
        repo.list("out")


def test_listings_leave_links_out_aside(tree) -> None:
    repo, _root, _outside = tree
    assert [(f.path, f.is_dir) for f in repo.list()] == [("inner", True), ("real", True)]


def test_links_within_the_root_are_followed(tree) -> None:
    repo, _root, _outside = tree
    assert repo.read_bytes("inner/a.txt") == b"inside"
    assert [f.path for f in repo.list("inner")] == ["inner/a.txt"]


def test_writes_never_land_outside(tree) -> None:
    repo, root, outside = tree
    with pytest.raises(PermissionDenied):
        repo.put("out/new.txt", io.BytesIO(b"x"))
    with pytest.raises(PermissionDenied):
        repo.put("out/deeper/new.txt", io.BytesIO(b"x"))
    repo.put("secret", io.BytesIO(b"replaced"))  # the link itself is replaced, its target untouched
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "outside the root"
    assert not (root / "secret").is_symlink() and (root / "secret").read_bytes() == b"replaced"


def test_deletes_never_reach_outside(tree) -> None:
    repo, root, outside = tree
    with pytest.raises(PermissionDenied):
        repo.delete("out/secret.txt")
    repo.delete("out")  # removes the link, not the folder it points at
    repo.delete("secret")
    assert not os.path.lexists(root / "out") and not os.path.lexists(root / "secret")
    assert (outside / "secret.txt").read_text() == "outside the root"


def test_a_root_reached_through_a_link_works(tmp_path: Path) -> None:
    (tmp_path / "real-root").mkdir()
    os.symlink(tmp_path / "real-root", tmp_path / "root")
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    repo.put("d/f.txt", io.BytesIO(b"ok"))
    assert repo.read_bytes("d/f.txt") == b"ok"
    assert [f.path for f in repo.list("d")] == ["d/f.txt"]
    repo.delete("d")
    assert list((tmp_path / "real-root").iterdir()) == []


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    """The store plays no part in following links: one server, on SQLite."""
    with store_server("sqlite", tmp_path_factory.mktemp("symlinks")) as live:
        yield live


PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def test_the_server_refuses_to_follow_links_out(srv: StoreServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep me")
    assert srv.http.put(f"{PROXY}/links/ok.txt", content=b"fine").status_code == 200
    folder = srv.root / "artifacts" / "links"
    os.symlink("/etc", folder / "etc")
    os.symlink("/etc/passwd", folder / "passwd")
    os.symlink(outside, folder / "out")
    for path in ("links/etc/passwd", "links/passwd", "links/out/keep.txt"):
        assert_refused(srv.http.get(f"{PROXY}/{path}"), 403, "PERMISSION_DENIED", str(srv.root), str(outside))
    listed = srv.http.get(PROXY, params={"path": "links"})
    assert [f["path"] for f in listed.json()["files"]] == ["ok.txt"]
    assert_refused(srv.http.get(PROXY, params={"path": "links/etc"}), 403, "PERMISSION_DENIED", str(srv.root))
    assert_refused(srv.http.put(f"{PROXY}/links/out/evil.py", content=b"x"), 403, "PERMISSION_DENIED", str(outside))
    assert_refused(srv.http.delete(f"{PROXY}/links/out/keep.txt"), 403, "PERMISSION_DENIED", str(outside))
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "keep me"


def test_run_artifact_routes_refuse_links_out(srv: StoreServer) -> None:
    run = srv.new_run(srv.new_experiment())
    rid = run["run_id"]
    assert run["artifact_uri"].startswith("mlflow-artifacts:/")
    rel = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert srv.http.put(f"{PROXY}/{rel}/ok.txt", content=b"fine").status_code == 200
    os.symlink("/etc", srv.root / "artifacts" / rel / "etc")
    for path, params in (("/get-artifact", {"run_id": rid, "path": "etc/passwd"}),
                         ("/api/2.0/mlflow/artifacts/list", {"run_id": rid, "path": "etc"})):
        assert_refused(srv.http.get(path, params=params), 403, "PERMISSION_DENIED", str(srv.root))
    r = srv.http.get(f"/runs/{rid}/artifacts/raw", params={"path": "etc/passwd"})
    assert r.status_code == 403
    assert_nothing_leaked(r, str(srv.root))
    listed = srv.api("GET", "/artifacts/list", params={"run_id": rid})
    assert [f["path"] for f in listed.json()["files"]] == ["ok.txt"]

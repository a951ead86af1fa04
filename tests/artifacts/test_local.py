"""What only the local repository does (the shared contract is in test_base.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from modelyard.artifacts import LocalArtifactRepository, get_repository, local_path_of
from modelyard.errors import InvalidParameterValue


def test_local_path_of() -> None:
    assert local_path_of("file:///a/b%20c") == "/a/b c"
    assert local_path_of("/a/b") == "/a/b"


@pytest.mark.parametrize("form", ["path", "file_uri"])
def test_get_repository_for_paths_and_file_uris(tmp_path: Path, form: str) -> None:
    uri = str(tmp_path) if form == "path" else f"file://{tmp_path}"
    repo = get_repository(uri)
    assert isinstance(repo, LocalArtifactRepository)
    repo.put("a/b.txt", io.BytesIO(b"hi"))
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"hi"


def test_get_repository_refuses_unknown_schemes() -> None:
    with pytest.raises(InvalidParameterValue, match="Unsupported artifact URI"):
        get_repository("gs://bucket/x")


def test_half_written_files_are_hidden(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path))
    repo.put("done.txt", io.BytesIO(b"1"))
    (tmp_path / ".modelyard-tmp-1-2-done.txt").write_bytes(b"partial")  # a put in flight elsewhere
    repo.put("data.tmp-1.csv", io.BytesIO(b"a,b"))  # a user's name that merely looks temporary
    assert [f.path for f in repo.list()] == ["data.tmp-1.csv", "done.txt"]


def test_name_collisions_are_client_errors_and_leave_nothing_behind(tmp_path: Path) -> None:
    from modelyard.errors import InvalidParameterValue

    repo = LocalArtifactRepository(str(tmp_path))
    repo.put("a.txt", io.BytesIO(b"1"))
    repo.put("d/b.txt", io.BytesIO(b"2"))
    with pytest.raises(InvalidParameterValue, match="share a name"):
        repo.put("a.txt/c.txt", io.BytesIO(b"3"))
    with pytest.raises(InvalidParameterValue, match="share a name"):
        repo.put("d", io.BytesIO(b"4"))
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".modelyard-tmp-")]
    assert leftovers == []


def test_put_leaves_no_temporary_file(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path))
    repo.put("d/f.bin", io.BytesIO(b"x" * 10))
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f.bin"]


def test_escape_writes_nothing_beside_the_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    with pytest.raises(InvalidParameterValue):
        repo.put("../outside.txt", io.BytesIO(b"x"))
    assert not (tmp_path / "outside.txt").exists()

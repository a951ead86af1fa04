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
    (tmp_path / "done.txt.tmp-1-2").write_bytes(b"partial")  # a put in flight elsewhere
    assert [f.path for f in repo.list()] == ["done.txt"]


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

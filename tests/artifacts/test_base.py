"""The ArtifactRepository contract, run on every backend: local disk and S3 (rclone)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from modelyard.artifacts import (
    ArtifactRepository,
    LocalArtifactRepository,
    get_repository,
    safe_relpath,
)
from modelyard.entities import FileInfo
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist

BINARY = bytes(range(256)) * 64 + b"\x00\r\n\x1a\xff"  # every byte value, CR/LF and NUL included


@pytest.fixture(params=["local", "s3"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    """An empty repository rooted below a prefix, so that nothing may escape it."""
    if request.param == "local":
        return LocalArtifactRepository(str(tmp_path / "root" / "1" / "artifacts"))
    bucket = request.getfixturevalue("s3_bucket")
    return get_repository(bucket.uri("root/1/artifacts"))


def put(repo: ArtifactRepository, path: str, data: bytes) -> None:
    repo.put(path, io.BytesIO(data))


def names(infos: list[FileInfo]) -> list[tuple[str, bool, int | None]]:
    return [(f.path, f.is_dir, f.file_size) for f in infos]


def make_tree(root: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "a" / "one.json").write_text('{"x": 1}')
    (root / "a" / "b" / "two.bin").write_bytes(BINARY)
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep")


def test_put_then_open_round_trips_binary(repo: ArtifactRepository) -> None:
    put(repo, "blob.bin", BINARY)
    assert repo.read_bytes("blob.bin") == BINARY
    assert b"".join(repo.open("blob.bin")) == BINARY


def test_put_overwrites(repo: ArtifactRepository) -> None:
    put(repo, "f.txt", b"first")
    put(repo, "f.txt", b"second")
    assert repo.read_bytes("f.txt") == b"second"


def test_empty_file(repo: ArtifactRepository) -> None:
    put(repo, "empty", b"")
    assert repo.is_file("empty")
    assert repo.read_bytes("empty") == b""
    assert names(repo.list()) == [("empty", False, 0)]


def test_put_creates_parents_and_list_shows_direct_children_only(repo: ArtifactRepository) -> None:
    put(repo, "x/y/z.txt", b"zz")
    put(repo, "x/a.txt", b"a")
    put(repo, "root.txt", b"r")
    assert names(repo.list()) == [("root.txt", False, 1), ("x", True, None)]
    assert names(repo.list("x")) == [("x/a.txt", False, 1), ("x/y", True, None)]
    assert names(repo.list("x/y")) == [("x/y/z.txt", False, 2)]
    assert names(repo.list("x/y/")) == names(repo.list("x/y"))
    assert names(repo.list("./x/./y")) == names(repo.list("x/y"))


def test_list_of_empty_missing_or_file_paths_is_empty(repo: ArtifactRepository) -> None:
    assert repo.list() == []
    assert repo.list("missing") == []
    put(repo, "file.txt", b"1")
    assert repo.list("file.txt") == []
    assert repo.list("missing/deeper") == []


def test_list_does_not_match_sibling_prefixes(repo: ArtifactRepository) -> None:
    put(repo, "dir/in.txt", b"1")
    put(repo, "dir2/in.txt", b"2")
    put(repo, "dirfile", b"3")
    assert names(repo.list("dir")) == [("dir/in.txt", False, 1)]


def test_is_file(repo: ArtifactRepository) -> None:
    put(repo, "d/f.txt", b"1")
    assert repo.is_file("d/f.txt")
    assert not repo.is_file("d")
    assert not repo.is_file("d/missing")
    assert not repo.is_file("")


def test_open_missing_raises_resource_does_not_exist(repo: ArtifactRepository) -> None:
    with pytest.raises(ResourceDoesNotExist):
        repo.open("nope.txt")
    put(repo, "d/f.txt", b"1")
    with pytest.raises(ResourceDoesNotExist):
        repo.open("d")  # a directory is not a file


def test_log_file_and_download_file(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(BINARY)
    repo.log_file(str(src), "models/v1")
    assert names(repo.list("models/v1")) == [("models/v1/model.pkl", False, len(BINARY))]
    local = repo.download("models/v1/model.pkl", str(tmp_path / "out"))
    assert local == str(tmp_path / "out" / "models" / "v1" / "model.pkl")
    assert Path(local).read_bytes() == BINARY


def test_log_dir_and_download_nested_tree(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    repo.log_dir(str(src), "run")
    assert names(repo.list("run")) == [("run/a", True, None), ("run/top.txt", False, 3)]
    assert names(repo.list("run/a/b")) == [("run/a/b/c", True, None), ("run/a/b/two.bin", False, len(BINARY))]

    whole = Path(repo.download("", str(tmp_path / "all")))
    assert whole == tmp_path / "all"
    assert (whole / "run" / "a" / "b" / "two.bin").read_bytes() == BINARY
    assert (whole / "run" / "a" / "b" / "c" / "deep.txt").read_text() == "deep"

    sub = Path(repo.download("run/a", str(tmp_path / "sub")))
    assert sub == tmp_path / "sub" / "run" / "a"
    found = sorted(str(p.relative_to(sub)) for p in sub.rglob("*") if p.is_file())
    assert found == ["b/c/deep.txt", "b/two.bin", "one.json"]


def test_log_dir_at_root(repo: ArtifactRepository, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    repo.log_dir(str(tmp_path / "src"))
    assert [f.path for f in repo.list()] == ["a", "top.txt"]


def test_delete_file(repo: ArtifactRepository) -> None:
    put(repo, "d/keep.txt", b"k")
    put(repo, "d/gone.txt", b"g")
    repo.delete("d/gone.txt")
    assert names(repo.list("d")) == [("d/keep.txt", False, 1)]
    assert not repo.is_file("d/gone.txt")


def test_delete_tree(repo: ArtifactRepository, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    repo.log_dir(str(tmp_path / "src"), "t")
    put(repo, "t2.txt", b"sibling")  # shares the "t" prefix but is outside the tree
    repo.delete("t/a")
    assert [f.path for f in repo.list("t")] == ["t/top.txt"]
    repo.delete("t")
    assert names(repo.list()) == [("t2.txt", False, 7)]


def test_delete_everything(repo: ArtifactRepository) -> None:
    put(repo, "a/b.txt", b"1")
    put(repo, "c.txt", b"2")
    repo.delete()
    assert repo.list() == []


def test_delete_missing_raises(repo: ArtifactRepository) -> None:
    with pytest.raises(ResourceDoesNotExist):
        repo.delete("nothing/here")


def test_large_file_round_trip(repo: ArtifactRepository) -> None:
    # Past boto3's 8 MB multipart threshold: exercises multipart upload on S3.
    data = os.urandom(256 * 1024) * 40
    put(repo, "big/weights.bin", data)
    assert names(repo.list("big")) == [("big/weights.bin", False, len(data))]
    chunks = list(repo.open("big/weights.bin"))
    assert len(chunks) > 1  # streamed, not read whole
    assert b"".join(chunks) == data


def test_unicode_and_space_names(repo: ArtifactRepository) -> None:
    put(repo, "répertoire/fichier été.txt", "déjà".encode())
    assert names(repo.list("répertoire")) == [("répertoire/fichier été.txt", False, 6)]
    assert repo.read_bytes("répertoire/fichier été.txt").decode() == "déjà"


ESCAPES = ["..", "../x", "/abs", "/etc/passwd", "a/../../b", "a/../b", "x/..", "C:/win", "s3://other/key", "a\x00b"]


@pytest.mark.parametrize("bad", ESCAPES)
def test_paths_that_escape_are_refused(repo: ArtifactRepository, bad: str) -> None:
    for call in (
        lambda: repo.put(bad, io.BytesIO(b"x")),
        lambda: repo.list(bad),
        lambda: repo.open(bad),
        lambda: repo.is_file(bad),
        lambda: repo.delete(bad),
    ):
        with pytest.raises(InvalidParameterValue):
            call()


def test_escape_via_artifact_path_of_log_file_is_refused(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(InvalidParameterValue):
        repo.log_file(str(src), "../outside")
    with pytest.raises(InvalidParameterValue):
        repo.log_dir(str(tmp_path), "/abs")
    with pytest.raises(InvalidParameterValue):
        repo.download("a/../../b", str(tmp_path / "out"))


def test_nothing_is_written_outside_the_root(repo: ArtifactRepository) -> None:
    for bad in ESCAPES:
        with pytest.raises(InvalidParameterValue):
            repo.put(bad, io.BytesIO(b"x"))
    parent = get_repository(repo.root_uri.rsplit("/", 2)[0])  # two levels up: .../root
    assert [f.path for f in parent.list()] == []


def test_safe_relpath_normalises() -> None:
    assert safe_relpath(None) == ""
    assert safe_relpath("./a//b/./c/") == "a/b/c"
    assert safe_relpath("a\\b") == "a/b"


def test_safe_relpath_bounds_what_a_store_can_hold() -> None:
    from modelyard.artifacts.base import MAX_NAME_BYTES, MAX_PATH_PARTS

    assert safe_relpath("/".join(["d"] * MAX_PATH_PARTS)) == "/".join(["d"] * MAX_PATH_PARTS)
    assert safe_relpath("é" * (MAX_NAME_BYTES // 2)) == "é" * (MAX_NAME_BYTES // 2)
    for path, field, reason in (
        ("/".join(["d"] * (MAX_PATH_PARTS + 1)), "path", "folders deep"),
        ("é" * (MAX_NAME_BYTES // 2 + 1), "artifact_path", "bytes"),  # 2 bytes a character in UTF-8
        ("/".join(["n" * 200] * 6), "path", "longer than"),
        ("a/../b", "path", "'..'"),
    ):
        with pytest.raises(InvalidParameterValue) as caught:
            safe_relpath(path, field)
        assert caught.value.message.startswith(f"Invalid path: {field}="), caught.value.message
        assert reason in caught.value.message
        assert len(caught.value.message) < 300  # a long path is shortened, not echoed whole

"""Which artifact locations a server accepts and serves (modelyard.artifacts.locations)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.artifacts.locations import ANYWHERE, ArtifactRoots, LocationError, parse_location
from modelyard.errors import InvalidParameterValue, PermissionDenied


@pytest.fixture
def roots(tmp_path: Path) -> ArtifactRoots:
    (tmp_path / "artifacts").mkdir()
    return ArtifactRoots([str(tmp_path / "artifacts"), "s3://team-bucket/mlflow/", ""])


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("file:///etc#", "fragments"),
        ("file:///etc?x=", "query"),
        ("file:///etc%3Fx=", "query"),
        ("s3://team-bucket/mlflow/a;b", "params"),
        ("file:///a/%2e%2e/b", "'..'"),
        ("file:///a/%25%32%65%25%32%65/b", "'..'"),
        ("s3://team-bucket/mlflow/..\\x", "'..'"),
        ("file://host/etc", "no host"),
        ("runs:/abc/x", "runs:/"),
        ("gs://bucket/x", "'gs' scheme"),
        ("s3:///x", "s3://BUCKET"),
        ("file:///etc\x00", "control"),
        ("/" + "a" * 2048, "longer than"),
        ("", "non-empty"),
    ],
)
def test_parse_location_refuses(uri: str, reason: str) -> None:
    with pytest.raises(LocationError, match=reason):
        parse_location(uri)


def test_parse_location_resolves_links(tmp_path: Path) -> None:
    os.symlink("/etc", tmp_path / "etc-link")
    assert parse_location(f"file://{tmp_path}/etc-link")[2] == ("etc",)


def test_contains(roots: ArtifactRoots, tmp_path: Path) -> None:
    inside = tmp_path / "artifacts"
    assert roots.contains(str(inside))
    assert roots.contains(f"file://{inside}/1/abc/artifacts")
    assert roots.contains("s3://team-bucket/mlflow")
    assert roots.contains("s3://team-bucket/mlflow/1/abc/artifacts")
    assert roots.contains("mlflow-artifacts:/1/abc/artifacts")
    assert not roots.contains("s3://team-bucket/mlflow-other/1")  # a name that merely starts alike
    assert not roots.contains("s3://other-bucket/mlflow/1")
    assert not roots.contains(str(tmp_path))
    assert not roots.contains(f"{tmp_path}/artifacts-other")
    assert not roots.contains("mlflow-artifacts:/1#")
    os.symlink("/etc", inside / "escape")
    assert not roots.contains(f"{inside}/escape")  # inside by name, outside once the link is followed


def test_check_location_names_the_field_and_no_root(roots: ArtifactRoots, tmp_path: Path) -> None:
    assert roots.check_location(f"{tmp_path}/artifacts/x") == f"{tmp_path}/artifacts/x"
    for uri in ("/etc", "file:///etc#"):
        with pytest.raises(InvalidParameterValue, match="'artifact_location'") as caught:
            roots.check_location(uri)
        assert str(tmp_path) not in caught.value.message


def test_confine_refuses_with_permission_denied_naming_no_path(roots: ArtifactRoots, tmp_path: Path) -> None:
    roots.confine(f"{tmp_path}/artifacts/1")
    with pytest.raises(PermissionDenied) as caught:
        roots.confine("file:///proc/self#/1/abc/artifacts")
    assert "/proc" not in caught.value.message and str(tmp_path) not in caught.value.message


def test_anywhere_accepts_every_well_formed_location_and_still_refuses_tricks(tmp_path: Path) -> None:
    anywhere = ArtifactRoots([str(tmp_path / "artifacts"), ANYWHERE])
    assert anywhere.contains(str(tmp_path / "elsewhere"))
    assert anywhere.contains("s3://any-bucket/prefix")
    for trick in ("file:///etc#", "file:///etc?x=1", "/srv/a/%2e%2e/b"):
        with pytest.raises(InvalidParameterValue):
            anywhere.check_location(trick)


def test_embedded_client_keeps_artifacts_where_its_user_says(tmp_path: Path) -> None:
    """The SDK in the user's own process: an experiment may live anywhere on the user's disk."""
    import modelyard as my

    client = my.Client(str(tmp_path / "store"))
    elsewhere = tmp_path / "elsewhere"
    eid = client.create_experiment("anywhere", artifact_location=str(elsewhere))
    run = client.create_run(eid)
    client.log_text(run.info.run_id, "kept", "notes.txt")
    assert (elsewhere / run.info.run_id / "artifacts" / "notes.txt").read_text() == "kept"
    with pytest.raises(InvalidParameterValue):
        client.create_experiment("tricked", artifact_location="file:///etc#")
    client.close()

"""Artifact repositories, chosen by the scheme of a URI."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidParameterValue
from ..extras import require
from .base import ArtifactRepository, safe_relpath
from .local import LocalArtifactRepository, local_path_of

__all__ = ["ArtifactRepository", "LocalArtifactRepository", "get_repository", "local_path_of", "safe_relpath"]


def _s3(uri: str) -> ArtifactRepository:
    require("boto3", f"The artifact location {uri.split('?', 1)[0]!r}")
    from .s3 import S3ArtifactRepository  # boto3 loads only when S3 is used

    return S3ArtifactRepository(uri)


_SCHEMES: dict[str, Callable[[str], ArtifactRepository]] = {
    "file": LocalArtifactRepository,
    "": LocalArtifactRepository,
    "s3": _s3,
}


def get_repository(uri: str) -> ArtifactRepository:
    """The repository for ``file:///...``, a local path, or ``s3://bucket/prefix``."""
    scheme = uri.split("://", 1)[0] if "://" in uri else ("file" if uri.startswith("file:") else "")
    factory = _SCHEMES.get(scheme)
    if factory is None:
        raise InvalidParameterValue(
            f"Unsupported artifact URI {uri!r}: use a local path, file:///PATH or s3://BUCKET/PREFIX."
        )
    return factory(uri)

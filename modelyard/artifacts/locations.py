"""Which artifact locations a server accepts and serves: plain URIs inside its configured roots.

An experiment's ``artifact_location`` comes from a client, and a stored row may
predate any check, so a location is checked twice: when an experiment is
created (:meth:`ArtifactRoots.check_location`, a 400 naming the field) and
every time the server is about to read, list, write or delete below it
(:meth:`ArtifactRoots.confine`, a 403 that names no path). A location is
refused if it carries a fragment, params or a query (they would swallow the
``/<run>/artifacts`` suffix the server appends), a ``..`` segment (also
percent-encoded), a control character, or a scheme other than a local path,
``file:``, ``s3:`` or ``mlflow-artifacts:``; a local or S3 location must lie
inside one of the roots (resolved through symbolic links for local paths).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from ..errors import InvalidParameterValue, PermissionDenied

MAX_LOCATION_LENGTH = 2048  # MLflow's MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH default
PROXY_SCHEME = "mlflow-artifacts"
ANYWHERE = "*"  # a root that holds every well-formed location: embedded mode, where the user is the operator
_LOCAL = ("", "file")


class LocationError(ValueError):
    """Why a location is refused (worded for the request field that carried it)."""


@dataclass(frozen=True)
class _Root:
    scheme: str  # "file" or "s3"
    bucket: str  # the S3 bucket; "" for local roots
    parts: tuple[str, ...]  # the real local path, or the S3 key prefix, split on "/"


def _decoded(text: str) -> str:
    """Percent-decode until nothing changes (``%252e%252e`` is ``..`` twice encoded)."""
    for _ in range(10):
        once = unquote(text)
        if once == text:
            return text
        text = once
    raise LocationError("it is percent-encoded too many times over")


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def parse_location(uri: str) -> tuple[str, str, tuple[str, ...]]:
    """``(scheme, bucket, path parts)`` of a plain location, or LocationError saying what is wrong with it.

    Local paths come back resolved (absolute, symbolic links followed); the
    scheme of a local path or ``file:`` URI is ``"file"``.
    """
    if not isinstance(uri, str) or not uri:
        raise LocationError("it must be a non-empty string URI")
    if len(uri) > MAX_LOCATION_LENGTH:
        raise LocationError(f"it is longer than {MAX_LOCATION_LENGTH} characters")
    decoded = _decoded(uri)
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        raise LocationError("it contains control characters")
    if "#" in decoded or ";" in decoded:
        raise LocationError("the URL can't include fragments or params")
    if "?" in decoded:
        raise LocationError("the URL can't include a query string")
    if ".." in decoded.replace("\\", "/").split("/"):
        raise LocationError("Invalid path: '..' segments are not allowed; give an absolute location")
    if uri.startswith("file:") or ("://" not in uri and ":" not in uri.split("/", 1)[0]):
        parsed = urlparse(uri) if uri.startswith("file:") else None
        if parsed is not None and parsed.netloc not in ("", "localhost"):
            raise LocationError("a file: URI must name no host (file:///PATH)")
        path = unquote(parsed.path) if parsed is not None else uri
        return "file", "", _parts(os.path.realpath(path))
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "runs":
        raise LocationError("it cannot be a runs:/ URI")
    parsed = urlparse(uri)
    if scheme == "s3":
        if not parsed.netloc:
            raise LocationError("an S3 location must be s3://BUCKET/PREFIX")
        return "s3", parsed.netloc, _parts(unquote(parsed.path))
    if scheme == PROXY_SCHEME:
        return PROXY_SCHEME, "", _parts(unquote(parsed.path))
    raise LocationError(
        f"the {scheme!r} scheme is not one this server stores artifacts with"
        " (a local path, file:///PATH, s3://BUCKET/PREFIX or mlflow-artifacts:/PATH)"
    )


class ArtifactRoots:
    """The places a server keeps artifacts: its destination, its default root and any extra roots.

    >>> roots = ArtifactRoots(["/srv/artifacts", "s3://bucket/mlflow"])
    >>> roots.check_location("file:///etc#")
    Traceback (most recent call last):
    ...
    modelyard.errors.InvalidParameterValue: Invalid value for 'artifact_location': the URL can't include ...
    """

    def __init__(self, roots: Iterable[str]) -> None:
        self.roots: list[_Root] = []
        self.anywhere = False
        for uri in roots:
            if uri == ANYWHERE:
                self.anywhere = True
            elif uri:
                scheme, bucket, parts = parse_location(uri.rstrip("/") or "/")
                if scheme != PROXY_SCHEME:
                    self.roots.append(_Root(scheme, bucket, parts))

    def contains(self, uri: str) -> bool:
        """Whether ``uri`` is a plain location the server may use (inside a root, or proxied)."""
        try:
            scheme, bucket, parts = parse_location(uri)
        except LocationError:
            return False
        if scheme == PROXY_SCHEME or self.anywhere:
            return True
        return any(
            r.scheme == scheme and r.bucket == bucket and parts[: len(r.parts)] == r.parts for r in self.roots
        )

    def check_location(self, uri: str, field: str = "artifact_location") -> str:
        """``uri`` if a client may store artifacts there; else a 400 naming ``field``."""
        try:
            scheme, _bucket, _parts = parse_location(uri)
        except LocationError as exc:
            raise InvalidParameterValue(f"Invalid value for '{field}': {exc}.") from None
        if scheme != PROXY_SCHEME and not self.contains(uri):
            raise InvalidParameterValue(
                f"Invalid value for '{field}': it lies outside the server's artifact roots. Leave '{field}' out"
                " to get a location under the default root, or ask the operator to add a root"
                " (MODELYARD_ARTIFACT_ROOTS)."
            )
        return uri

    def confine(self, uri: str) -> None:
        """Refuse (403, naming no path) to touch artifacts at ``uri`` unless it lies inside a root."""
        if not self.contains(uri):
            raise PermissionDenied(
                "The artifact location of this resource lies outside the server's artifact roots (or is not a"
                " plain URI), so the server does not read, list, write or delete artifacts there."
            )

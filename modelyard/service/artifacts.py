"""Where a run's artifacts live, and listing them."""

from __future__ import annotations

from ..artifacts import ArtifactRepository, get_repository, safe_relpath
from ..entities import FileInfo

PROXY_SCHEME = "mlflow-artifacts:"


class ArtifactService:
    """Resolves artifact URIs; ``mlflow-artifacts:/x`` maps into the proxied destination."""

    def __init__(self, destination: str) -> None:
        self.destination = destination.rstrip("/")

    def proxied_repository(self) -> ArtifactRepository:
        return get_repository(self.destination)

    def repository(self, artifact_uri: str) -> ArtifactRepository:
        if artifact_uri.startswith(PROXY_SCHEME):
            rel = _proxy_path(artifact_uri)
            return get_repository(f"{self.destination}/{rel}" if rel else self.destination)
        return get_repository(artifact_uri)

    def list(self, artifact_uri: str, path: str | None = None) -> list[FileInfo]:
        return self.repository(artifact_uri).list(safe_relpath(path))


def _proxy_path(uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` or ``mlflow-artifacts://host:port/1/...`` → ``1/abc/artifacts``."""
    rest = uri[len(PROXY_SCHEME):]
    if rest.startswith("//"):
        rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
    return safe_relpath(rest.lstrip("/"), "artifact_uri")

"""Where a run's artifacts live, and listing them: only ever inside the server's artifact roots."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..artifacts import ArtifactRepository, get_repository, safe_relpath
from ..artifacts.locations import ArtifactRoots
from ..entities import FileInfo

PROXY_SCHEME = "mlflow-artifacts:"
RUNS_SCHEME = "runs:/"


class ArtifactService:
    """Resolves artifact URIs; ``mlflow-artifacts:/x`` maps into the proxied destination.

    Every repository it hands out lies inside ``roots`` (the destination is always
    one): a location outside them, stored by a client or by an older server, is
    refused with PERMISSION_DENIED before any file is touched.
    """

    def __init__(self, destination: str, roots: Iterable[str] = ()) -> None:
        self.destination = destination.rstrip("/")
        self.roots = ArtifactRoots([self.destination, *roots])

    def check_location(self, uri: str) -> str:
        """An experiment's ``artifact_location`` from a client: a 400 naming the field unless usable."""
        return self.roots.check_location(uri, "artifact_location")

    def proxied_repository(self) -> ArtifactRepository:
        return get_repository(self.destination)

    def repository(self, artifact_uri: str) -> ArtifactRepository:
        self.roots.confine(artifact_uri)
        if artifact_uri.startswith(PROXY_SCHEME):
            rel = _proxy_path(artifact_uri)
            return get_repository(f"{self.destination}/{rel}" if rel else self.destination)
        return get_repository(artifact_uri)

    def source_repository(self, uri: str, run_artifact_uri: Callable[[str], str]) -> ArtifactRepository:
        """The repository of a model version's download URI; ``runs:/<id>/path`` is read below that run."""
        if uri.startswith(RUNS_SCHEME):
            run_id, _, path = uri[len(RUNS_SCHEME):].partition("/")
            rel = safe_relpath(path, "source")
            base = run_artifact_uri(run_id)
            uri = f"{base}/{rel}" if rel else base
        return self.repository(uri)

    def list(self, artifact_uri: str, path: str | None = None) -> list[FileInfo]:
        return self.repository(artifact_uri).list(safe_relpath(path))


def _proxy_path(uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` or ``mlflow-artifacts://host:port/1/...`` → ``1/abc/artifacts``."""
    rest = uri[len(PROXY_SCHEME):]
    if rest.startswith("//"):
        rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
    return safe_relpath(rest.lstrip("/"), "artifact_uri")

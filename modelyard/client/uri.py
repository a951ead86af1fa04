"""Where the SDK sends its data: resolved once, in one place.

Order: :func:`set_tracking_uri`, else ``MODELYARD_TRACKING_URI``, else
``MLFLOW_TRACKING_URI``, else the embedded store ``./.modelyard/`` made
absolute at first use (so workers started elsewhere get the same store).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from ..settings import Settings

EMBEDDED_DIR = ".modelyard"
_lock = threading.Lock()
_explicit: str | None = None
_resolved: str | None = None


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Point the SDK at ``http(s)://host:port``, a folder, ``sqlite:///x.db`` or ``postgresql://...``."""
    global _explicit, _resolved
    with _lock:
        _explicit = None if uri is None else _absolute(os.fspath(uri))
        _resolved = None


def get_tracking_uri() -> str:
    global _resolved
    with _lock:
        if _explicit is not None:
            return _explicit
        if _resolved is None:
            env = os.environ.get("MODELYARD_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
            _resolved = _absolute(env) if env else os.path.abspath(EMBEDDED_DIR)
        return _resolved


def _absolute(uri: str) -> str:
    if uri.startswith("file:"):
        uri = uri[len("file://"):] if uri.startswith("file://") else uri[len("file:"):]
    if "://" in uri or uri.startswith("sqlite:"):
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and uri != "sqlite:///:memory:":
            return "sqlite:///" + os.path.abspath(uri[len("sqlite:///"):])
        return uri
    return os.path.abspath(uri)


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


@dataclass(frozen=True)
class EmbeddedLocation:
    """The database and artifact root of an embedded (in-process) store."""

    backend_store_uri: str
    artifact_root: str


def embedded_location(uri: str) -> EmbeddedLocation:
    """A folder holds ``modelyard.db`` and ``artifacts/``; a database URI keeps artifacts beside it."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        return EmbeddedLocation(uri, os.path.join(os.path.dirname(os.path.abspath(path)), "artifacts"))
    if uri.startswith(("postgresql:", "postgres:", "postgresql+")):
        root = Settings.from_env().artifacts_destination or os.path.abspath(os.path.join(EMBEDDED_DIR, "artifacts"))
        return EmbeddedLocation(uri, root)
    folder = os.path.abspath(uri)
    return EmbeddedLocation(f"sqlite:///{os.path.join(folder, 'modelyard.db')}", os.path.join(folder, "artifacts"))


def embedded_database_file(uri: str) -> str | None:
    """The SQLite file an embedded store at ``uri`` lives in; None for a server or PostgreSQL (nothing local to check)."""
    if is_http(uri) or uri == "sqlite:///:memory:" or not (uri.startswith("sqlite:") or "://" not in uri):
        return None
    return embedded_location(uri).backend_store_uri[len("sqlite:///"):]


def default_experiment_from_env() -> tuple[str | None, str | None]:
    """MLflow's ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``, honoured as MLflow does."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or None, os.environ.get("MLFLOW_EXPERIMENT_ID") or None

"""The artifact repository interface: a tree of files under one root."""

from __future__ import annotations

import os
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol

from ..entities import FileInfo
from ..errors import InvalidParameterValue

MAX_PATH_PARTS = 256  # folders deep; far past any real artifact tree, far below the recursion limit
MAX_NAME_BYTES = 255  # one file or folder name (NAME_MAX on Linux and macOS)
MAX_PATH_BYTES = 1024  # a whole relative path (S3's key limit)


class Readable(Protocol):
    """What :meth:`ArtifactRepository.put` reads from: a binary stream's ``read`` (an open file,
    a spooled temporary file, a stream over chunks)."""

    def read(self, size: int = -1, /) -> bytes: ...


def invalid_path(field: str, path: str, why: str) -> InvalidParameterValue:
    """MLflow's ``Invalid path`` error, naming the field and (shortened) the path, then our reason."""
    shown = path if len(path) <= 80 else f"{path[:60]}...({len(path)} characters)"
    return InvalidParameterValue(f"Invalid path: {field}={shown!r}: {why}")


def safe_relpath(path: str | None, field: str = "path") -> str:
    """Normalise a relative artifact path; refuse anything that escapes the root or that no store can hold."""
    if not path:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Invalid path: {field} must be a string, got {type(path).__name__}.")
    if "\x00" in path:
        raise invalid_path(field, path, "NUL bytes are not allowed.")
    p = path.replace("\\", "/")
    if p.startswith("/") or (len(p) > 1 and p[1] == ":") or "://" in p:
        raise invalid_path(field, path, "artifact paths must be relative to the run's artifact root.")
    parts = [part for part in p.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise invalid_path(field, path, "'..' is not allowed in artifact paths.")
    if len(parts) > MAX_PATH_PARTS:
        raise invalid_path(field, path, f"{len(parts)} folders deep; at most {MAX_PATH_PARTS} are allowed.")
    longest = max((len(part.encode("utf-8", "surrogatepass")) for part in parts), default=0)
    if longest > MAX_NAME_BYTES:
        raise invalid_path(field, path, f"a name of {longest} bytes; each name may have at most {MAX_NAME_BYTES}.")
    rel = "/".join(parts)
    if len(rel.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise invalid_path(field, path, f"longer than {MAX_PATH_BYTES} bytes; use a shorter path.")
    return rel


class ArtifactRepository(ABC):
    """Files below ``root_uri``. Every path argument is relative to that root."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri.rstrip("/")

    @abstractmethod
    def put(self, path: str, data: Readable) -> None:
        """Write a file at ``path`` from a binary stream (parents are created)."""

    @abstractmethod
    def list(self, path: str = "") -> list[FileInfo]:
        """The direct children of directory ``path`` (paths relative to the root)."""

    @abstractmethod
    def open(self, path: str) -> Iterator[bytes]:
        """Stream the bytes of file ``path``; ResourceDoesNotExist if absent."""

    @abstractmethod
    def delete(self, path: str = "") -> None:
        """Delete a file or a directory tree."""

    @abstractmethod
    def is_file(self, path: str) -> bool:
        """Whether ``path`` is an existing file."""

    def log_file(self, local_file: str, artifact_path: str | None = None) -> None:
        name = os.path.basename(local_file)
        dest = posixpath.join(safe_relpath(artifact_path, "artifact_path"), name)
        with open(local_file, "rb") as fh:
            self.put(dest, fh)

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        base = safe_relpath(artifact_path, "artifact_path")
        for dirpath, _dirs, files in os.walk(local_dir):
            rel = os.path.relpath(dirpath, local_dir)
            rel = "" if rel == "." else rel.replace(os.sep, "/")
            for fname in files:
                with open(os.path.join(dirpath, fname), "rb") as fh:
                    self.put(posixpath.join(base, rel, fname), fh)

    def download(self, path: str, dest_dir: str) -> str:
        """Copy a file or directory tree to ``dest_dir``; return the local path."""
        path = safe_relpath(path)
        if path and self.is_file(path):
            local = os.path.join(dest_dir, *path.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as out:
                out.writelines(self.open(path))
            return local
        local_root = os.path.join(dest_dir, *path.split("/")) if path else dest_dir
        os.makedirs(local_root, exist_ok=True)
        for info in self.list(path):
            self.download(info.path, dest_dir)
        return local_root

    def read_bytes(self, path: str) -> bytes:
        return b"".join(self.open(path))

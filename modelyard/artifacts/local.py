"""Artifacts in a folder on local disk."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..entities import FileInfo
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from .base import ArtifactRepository, safe_relpath

_CHUNK = 1 << 20
TMP_PREFIX = ".modelyard-tmp-"  # an upload in flight; hidden from listings


def _discard(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def local_path_of(uri: str) -> str:
    """``file:///a/b`` or ``/a/b`` → ``/a/b``."""
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


class LocalArtifactRepository(ArtifactRepository):
    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        self.root = os.path.abspath(local_path_of(root_uri))

    def _full(self, path: str) -> str:
        rel = safe_relpath(path)
        return os.path.join(self.root, *rel.split("/")) if rel else self.root

    def put(self, path: str, data: BinaryIO) -> None:
        full = self._full(path)
        folder, name = os.path.split(full)
        tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{id(data)}-{name}")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(tmp, "wb") as out:
                shutil.copyfileobj(data, out, _CHUNK)
            os.replace(tmp, full)  # readers never see half a file
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            _discard(tmp)
            raise InvalidParameterValue(
                f"Cannot write artifact {path!r}: a file and a directory would share a name ({exc.strerror})."
            ) from None
        except BaseException:
            _discard(tmp)
            raise

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_relpath(path)
        full = self._full(rel)
        if not os.path.isdir(full):
            return []
        infos = []
        for entry in sorted(os.scandir(full), key=lambda e: e.name):
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                infos.append(FileInfo(child, True, None))
            elif not entry.name.startswith(TMP_PREFIX):
                infos.append(FileInfo(child, False, entry.stat().st_size))
        return infos

    def open(self, path: str) -> Iterator[bytes]:
        full = self._full(path)
        if not os.path.isfile(full):
            raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")
        return _read_chunks(full)

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self._full(path))

    def delete(self, path: str = "") -> None:
        full = self._full(path)
        if os.path.isdir(full):
            shutil.rmtree(full)
        elif os.path.exists(full):
            os.remove(full)
        else:
            raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")


def _read_chunks(full: str) -> Iterator[bytes]:
    with open(full, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk

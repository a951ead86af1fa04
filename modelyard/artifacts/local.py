"""Artifacts in a folder on local disk."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..entities import FileInfo
from ..errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from .base import ArtifactRepository, Readable, invalid_path, safe_relpath

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
    """Files below a local folder. Symbolic links are followed only while they stay inside it.

    Reads resolve every link and refuse a target outside the root; writes and
    deletes resolve the folders on the way and act on the last name itself (a
    link there is replaced or removed, never written or deleted through).
    """

    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        self.root = os.path.abspath(local_path_of(root_uri))

    def _joined(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/")) if rel else self.root

    def _inside(self, path: str, rel: str) -> str:
        real_root = os.path.realpath(self.root)
        if path != real_root and not path.startswith(real_root.rstrip(os.sep) + os.sep):
            raise PermissionDenied(
                f"Invalid path: path={rel!r} leads out of the artifact root through a symbolic link."
            )
        return path

    def _full(self, path: str) -> str:
        """The real path of ``path``, every link resolved; refused if it leaves the root."""
        rel = safe_relpath(path)
        return self._inside(os.path.realpath(self._joined(rel)), rel)

    def _entry(self, path: str) -> tuple[str, str]:
        """``(real folder, name)`` of ``path``: the folders resolved, the last name left as it is."""
        rel = safe_relpath(path)
        if not rel:
            return self._full(""), ""
        folder, name = os.path.split(self._joined(rel))
        return self._inside(os.path.realpath(folder), rel), name

    def put(self, path: str, data: Readable) -> None:
        folder, name = self._entry(path)
        if not name:
            raise InvalidParameterValue("An artifact path is required to write a file.")
        full = os.path.join(folder, name)
        tmp = os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}")  # short: any name of the user's still fits
        try:
            with _os_errors(path):
                os.makedirs(folder, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(data, out, _CHUNK)
                os.replace(tmp, full)  # readers never see half a file; a link at ``full`` is replaced, not followed
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
            if entry.is_symlink() and not self._stays_inside(entry.path):
                continue  # a link out of the root is not part of the tree
            if entry.is_dir():
                infos.append(FileInfo(child, True, None))
            elif not entry.name.startswith(TMP_PREFIX):
                infos.append(FileInfo(child, False, entry.stat().st_size))
        return infos

    def _stays_inside(self, link: str) -> bool:
        try:
            self._inside(os.path.realpath(link), "")
        except PermissionDenied:
            return False
        return True

    def open(self, path: str) -> Iterator[bytes]:
        full = self._full(path)
        if not os.path.isfile(full):
            raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")
        with _os_errors(path):
            fd = os.open(full, os.O_RDONLY | _NOFOLLOW)  # ``full`` is resolved: a link swapped in now is refused
        return _read_chunks(os.fdopen(fd, "rb"))

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self._full(path))

    def delete(self, path: str = "") -> None:
        folder, name = self._entry(path)
        full = os.path.join(folder, name) if name else folder
        with _os_errors(path):
            if os.path.islink(full):
                os.unlink(full)  # the link goes, whatever it points at stays
            elif os.path.isdir(full):
                shutil.rmtree(full)  # never follows links below (fd-based on Linux)
            elif os.path.exists(full):
                os.remove(full)
            else:
                raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def _os_errors(path: str) -> Iterator[None]:
    """Turn a file system refusal into a 400 or 403 naming the artifact path, never the absolute one."""
    try:
        yield
    except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
        raise InvalidParameterValue(
            f"Cannot write artifact {path!r}: a file and a directory would share a name ({exc.strerror})."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise invalid_path("path", path, "too long for the artifact store; use shorter names.") from None
        if exc.errno == errno.ELOOP:
            raise PermissionDenied(f"Invalid path: path={path!r} is a symbolic link the server does not follow.") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDenied(f"The server may not access artifact {path!r} ({exc.strerror}).") from None
        raise


def _read_chunks(fh: BinaryIO) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(_CHUNK):
            yield chunk

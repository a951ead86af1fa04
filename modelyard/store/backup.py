"""``modelyard db backup``: a consistent copy of a SQLite store, taken while servers keep writing.

SQLite's online backup API (:meth:`sqlite3.Connection.backup`) copies every
page in one step, inside one read transaction: the copy is the database as of
one commit, and in WAL mode writers go on meanwhile (they are never blocked by a
reader). The copy is written beside the target under a temporary name, checked
(``PRAGMA quick_check``), switched to a self-contained rollback journal and
only then renamed into place, so a crash never leaves a half-written file at
the target. Artifacts are files, not rows: copy the artifact folder as well.

PostgreSQL has its own tools: ``pg_dump`` (see docs/deployment.md).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from .upgrade import shown, sqlite_path


@dataclass(frozen=True)
class Backup:
    source: str
    path: str
    bytes: int
    revision: str | None
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "path": self.path, "bytes": self.bytes, "revision": self.revision,
                "seconds": round(self.seconds, 3)}


class NotSqlite(InvalidParameterValue):
    """The store is not a SQLite file: its own tools back it up."""


def backup(uri: str, path: str, *, overwrite: bool = False, busy_timeout: float = 60.0) -> Backup:
    """Copy the SQLite store at ``uri`` to the file ``path``, consistently, while others write to it."""
    source = sqlite_path(uri)
    if source is None:
        raise NotSqlite(
            f"{shown(uri)} is not a SQLite file: back up PostgreSQL with pg_dump, e.g."
            " pg_dump --format=custom --file modelyard.dump 'postgresql://USER@HOST:PORT/DB'.")
    if not os.path.exists(source):
        raise ResourceDoesNotExist(f"No store at {shown(uri)}: the file {source} does not exist.")
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise InvalidParameterValue(f"PATH {path!r} is a folder: give a file name, e.g. {os.path.join(path, 'modelyard.db')}.")
    if os.path.realpath(target) == os.path.realpath(source):
        raise InvalidParameterValue(f"PATH {path!r} is the store itself: give another file.")
    if os.path.exists(target) and not overwrite:
        raise ResourceAlreadyExists(f"PATH {path!r} already exists: choose another file, or pass --overwrite.")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise InvalidParameterValue(f"PATH {path!r}: the folder {folder} does not exist.")
    partial = os.path.join(folder, f".{os.path.basename(target)}.partial-{os.getpid()}")
    started = time.monotonic()
    try:
        src = sqlite3.connect(f"file:{quote(source)}?mode=rw", uri=True, timeout=busy_timeout)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # pages=-1: every page in one step, one snapshot
                checked = dst.execute("PRAGMA quick_check").fetchone()[0]
                if checked != "ok":
                    raise sqlite3.DatabaseError(f"the copy failed its check: {checked}")
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                found = dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
                rev = dst.execute("SELECT version_num FROM alembic_version").fetchone() if found.fetchone() else None
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
        _fsync_folder(folder)
    finally:
        for leftover in (partial, partial + "-journal", partial + "-wal", partial + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return Backup(shown(uri), target, os.path.getsize(target), rev[0] if rev else None, time.monotonic() - started)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

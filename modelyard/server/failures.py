"""What the API answers for an error: one mapping for the Starlette routes and the hot path."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from ..errors import ModelyardError, TemporarilyUnavailable

log = logging.getLogger("modelyard.server")


def error_payload(exc: BaseException, method: str, path: str) -> tuple[int, dict[str, Any]]:
    """``(status, JSON body)`` for ``exc`` raised while answering ``method path``.

    A ``ModelyardError`` carries its own code and status; SQLite's "database is
    locked" (the busy timeout ran out under another writer) is a 503 worth a
    retry; anything else is logged and answered 500 ``INTERNAL_ERROR``, naming only the
    exception's type (its text may hold SQL or paths).
    """
    if isinstance(exc, ModelyardError):
        return exc.status, exc.to_dict()
    if is_busy(exc):
        err = TemporarilyUnavailable("The store is busy with another writer; retry the request.")
        return err.status, err.to_dict()
    log.error("unexpected error on %s %s", method, path, exc_info=exc)
    # Only the error's type: its text may carry SQL or server paths, which a client must not see.
    message = f"Internal error: {type(exc).__name__}. The server's log has the details."
    return 500, {"error_code": "INTERNAL_ERROR", "message": message}


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": another connection held the write lock past our wait.

    Read from SQLite's error code (``SQLITE_BUSY``/``SQLITE_LOCKED`` and their extended
    codes), on the driver's exception or the SQLAlchemy error wrapping it, never from its text.
    """
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

"""Raw HTTP/1.1 for the security tests: request bytes with exactly the headers given, and servers with settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..conftest import LiveServer
from ..server.test_http_protocol import Conn

__all__ = ["Conn", "request", "server_with", "with_env"]


def request(method: str, path: str, body: bytes = b"", host: str = "127.0.0.1", **headers: str) -> bytes:
    """One request's bytes: ``Host``, the ``headers`` given (``content_type`` → ``Content-Type``) and Content-Length."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name.replace('_', '-').title()}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextlib.contextmanager
def with_env(**values: str) -> Iterator[None]:
    """``MODELYARD_<NAME>`` variables set for the block (a server subprocess started inside inherits them)."""
    names = {f"MODELYARD_{k.upper()}": v for k, v in values.items()}
    before = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


@contextlib.contextmanager
def server_with(folder: Path, **settings: str) -> Iterator[LiveServer]:
    """A ``modelyard server`` over SQLite in ``folder`` with these settings (the guard does not depend on the store)."""
    with with_env(**settings):
        live = LiveServer(f"sqlite:///{folder / 'security.db'}", str(folder / "artifacts"))
    try:
        yield live
    finally:
        live.stop()

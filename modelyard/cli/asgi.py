"""Run an ASGI app factory with uvicorn, in one process or several worker processes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, cast

import click

# uvicorn's supervisor pings each worker and replaces one that does not answer within this
# time. A spawned worker answers only once it has unpickled its app factory, which imports
# the server (numpy, scikit-learn, torch...): uvicorn's 5 s default replaced such workers
# forever on a busy machine. The same wait bounds how long a worker stuck in shutdown (alive,
# no longer answering pings) keeps its slot, so it stays well short of minutes.
WORKER_HEALTHCHECK_SECONDS = 30


def check_port(host: str, port: int) -> None:
    """Fail with one line when ``host:port`` cannot be listened on (taken, or not an address of this machine).

    Checked before the address is announced; uvicorn binds the same way (``SO_REUSEADDR``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise click.ClickException(
                f"Cannot listen on {host}:{port}: {reason.lower()}. Choose another port with --port."
            ) from None


def run_asgi(
    factory: Callable[[], Any], host: str, port: int, workers: int, log_level: str, request_timeout: float = 60.0
) -> None:
    """Serve ``factory()`` on ``host:port``; ``workers`` > 1 starts that many processes on one socket.

    uvicorn's httptools protocol, behind the head limits and the ``request_timeout`` deadline of
    :func:`modelyard.web.http_limits.limited_http`.
    """
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from ..web.http_limits import limited_http

    # uvicorn calls ``http`` as it would a protocol class (keyword arguments only): a factory does as well.
    http = cast("type[asyncio.Protocol]", limited_http(request_timeout))
    config = uvicorn.Config(
        factory, factory=True, host=host, port=port, workers=workers, http=http,
        log_level=log_level, access_log=False, timeout_keep_alive=30,
        server_header=False,  # no "server: uvicorn" on every answer (names the software; costs each answer)
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    if workers > 1:
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise SystemExit(STARTUP_FAILURE)  # a worker could not start (uvicorn stops them all): fail, as one does
    else:
        uvicorn.Server(config).run()

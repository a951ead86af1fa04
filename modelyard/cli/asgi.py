"""Run an ASGI app factory with uvicorn, in one process or several worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A worker loads the model (or opens the store) before it answers the supervisor's health
# check; uvicorn's 5 s default kills and replaces workers that import torch or load a large
# model on a busy machine, forever. Two minutes covers a slow start without hiding a hang.
WORKER_HEALTHCHECK_SECONDS = 120.0


def run_asgi(factory: Callable[[], Any], host: str, port: int, workers: int, log_level: str) -> None:
    """Serve ``factory()`` on ``host:port``; ``workers`` > 1 starts that many processes on one socket."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        factory, factory=True, host=host, port=port, workers=workers,
        log_level=log_level, access_log=False, timeout_keep_alive=30,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()

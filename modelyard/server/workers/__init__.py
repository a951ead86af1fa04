"""Background workers of a server process (webhook outbox, scheduler…).

``create_app`` starts every module found here at start-up and stops it at
shutdown. A module exposes ``start(service) -> Worker``; a ``Worker`` has
``async stop()``. Workers must be safe with several server processes over one
store (claim work in the database, never in memory).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Protocol


class Worker(Protocol):
    async def stop(self) -> None: ...


def start_all(service: Any) -> list[Worker]:
    workers: list[Worker] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        start = getattr(module, "start", None)
        if start is not None:
            worker = start(service)
            if worker is not None:
                workers.append(worker)
    return workers

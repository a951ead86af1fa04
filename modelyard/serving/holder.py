"""Which model version answers, and hot swaps when the alias moves.

The holder keeps one :class:`LoadedModel` reference. A request takes the
reference once at its start and finishes on that model, so replacing the
reference is the whole atomic switch: requests in flight finish on the old
version, new ones get the new one. A new version is loaded (and predicted on
once) in the background before the switch; if that fails the old version keeps
serving and the error is reported on ``/version`` and in the metrics.

Every load asks the server's :class:`~modelyard.models.trust.TrustPolicy`: a
version it refuses (a pickled model without ``--allow-pickle``, an untrusted skops
type) is never unpickled, is logged, counted in
``modelyard_serving_model_refused_total{reason}`` and shown on ``/version``
(``last_error``, ``refused_version``), and is not tried again until the alias moves on.
At start-up a refusal stops the server with that message.

The alias is re-resolved every ``poll_interval`` seconds, and at once when the
registry's webhook calls ``POST /-/webhook``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import UntrustedModel
from ..models.trust import TrustPolicy, serving_policy
from .metrics import ServingMetrics
from .model import LoadedModel, Target, load, resolve

log = logging.getLogger("modelyard.serving")


class ModelHolder:
    def __init__(self, uri: str, client_factory: Callable[[], Any], metrics: ServingMetrics,
                 name: str | None = None, trust: TrustPolicy | None = None) -> None:
        self.uri = uri
        self.trust = trust if trust is not None else serving_policy()
        self.client_factory = client_factory
        self.metrics = metrics
        self.name = name
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_check_at: float | None = None
        self.swaps = 0
        self.refused_version: str | None = None  # the load URI the trust policy refused last
        self._lock = threading.Lock()  # one resolve-and-load at a time
        self._client: Any = None
        self._refreshing = False
        self._again = False

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    @property
    def movable(self) -> bool:
        return self.current is not None and self.current.target.movable

    def load_initial(self) -> LoadedModel:
        with self._lock:
            try:
                model = load(resolve(self.uri, self.client, self.name), self.client, self.trust)
            except UntrustedModel as exc:
                log.error("refusing to serve %s: %s", self.uri, exc.message)
                raise
            self._switch(model)
            return model

    def refresh(self) -> bool:
        """Re-resolve the URI; load and switch to a new version. True when the version changed."""
        with self._lock:
            self.last_check_at = time.time()
            current = self.current
            try:
                target: Target = resolve(self.uri, self.client, self.name)
                if current is not None and target.version == current.version:
                    return False
                if target.load_uri == self.refused_version:
                    return False  # refused already: the policy has not changed, the alias has not moved
                model = load(target, self.client, self.trust)
            except UntrustedModel as exc:
                self._refused(target, exc, current)
                return False
            except Exception as exc:  # noqa: BLE001 - keep serving the old version, say why
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.last_error_at = time.time()
                self.metrics.load_failures.inc()
                log.warning("could not switch %s to a new version; still serving %s: %s",
                            self.uri, current.version if current else None, self.last_error)
                return False
            self._switch(model)
            self.last_error = self.refused_version = None
            gc.freeze()  # the new version's objects live as long as it serves (see heap.settle_heap)
            return True

    def _refused(self, target: Target, exc: UntrustedModel, current: LoadedModel | None) -> None:
        self.refused_version = target.load_uri
        self.last_error = f"{type(exc).__name__}: refused {target.load_uri}: {exc.message}"
        self.last_error_at = time.time()
        self.metrics.load_failures.inc()
        self.metrics.refused.inc(exc.reason)
        log.error("refusing to switch %s to %s; still serving version %s: %s",
                  self.uri, target.load_uri, current.version if current else None, exc.message)

    def _switch(self, model: LoadedModel) -> None:
        old, self.current = self.current, model
        self.metrics.set_model(model.name, model.version, model.target.load_uri)
        if old is not None:
            self.swaps += 1
            self.metrics.swaps.inc()
            log.warning("now serving %s version %s (was %s)", model.name, model.version, old.version)
            # Requests still on the old model hold it in memory; its files are no longer needed.
            timer = threading.Timer(30.0, old.close)
            timer.daemon = True
            timer.start()

    async def refresh_soon(self) -> None:
        """Refresh in the background; a call during a refresh makes it run once more afterwards."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._again = False
                await loop.run_in_executor(None, self.refresh)
                if not self._again:
                    break
        finally:
            self._refreshing = False

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.movable:
                await self.refresh_soon()

    def describe(self) -> dict[str, Any]:
        m = self.current
        out: dict[str, Any] = {"model_uri": self.uri, "swaps": self.swaps, "last_error": self.last_error,
                               "refused_version": self.refused_version}
        if m is not None:
            out.update(model_name=m.name, model_version=m.version, resolved_uri=m.target.load_uri,
                       loaded_at=m.loaded_at, run_id=m.pyfunc.run_id, flavors=sorted(m.pyfunc.flavors))
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

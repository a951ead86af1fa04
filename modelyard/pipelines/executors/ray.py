"""The Ray executor: each step attempt is a Ray task (``pip install "modelyard[ray]"``).

Local by default (``ray.init(num_cpus=..., _node_ip_address="127.0.0.1")``), or a
cluster ``address``. Steps report to the resolved tracking URI, handed to the
workers; a cluster on other machines cannot reach a local store, so that is
refused before the run starts. A step that overruns its timeout is cancelled
with ``force=True``, which kills its worker process.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from ...client.uri import is_http
from ..errors import PipelineError, StepTimeout
from . import build_spec, outcome

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")


def _execute(spec: dict[str, Any]) -> dict[str, Any]:
    from .. import capture
    from ..task import execute

    with capture.routing(tee=False):
        return execute(spec)


def is_remote(address: str | None) -> bool:
    """Whether ``address`` names a Ray cluster on another machine."""
    if not address or address in ("local", "auto"):
        return False
    host = urlparse(address if "://" in address else f"ray://{address}").hostname or ""
    return host not in _LOCAL_HOSTS


class RayExecutor:
    name = "ray"
    in_process = False

    def __init__(self, address: str | None = None, max_workers: int | None = None, num_cpus: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise PipelineError('The ray executor needs Ray: pip install "modelyard[ray]".') from None
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.concurrency = max_workers or 0
        self._remote: Any = None

    def prepare(self, tracking_uri: str) -> None:
        import ray

        if is_remote(self.address) and not is_http(tracking_uri):
            raise PipelineError(
                f"The Ray cluster at {self.address} runs steps on other machines, which cannot reach the local "
                f"store {tracking_uri!r}. Start `modelyard server` (PostgreSQL + S3 for a cluster) and set the "
                "tracking URI to its http(s):// address."
            )
        if not ray.is_initialized():
            env = {"env_vars": {"MODELYARD_TRACKING_URI": tracking_uri}}
            if self.address:
                ray.init(address=self.address, runtime_env=env, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_cpus or os.cpu_count() or 2, _node_ip_address="127.0.0.1",
                         include_dashboard=False, runtime_env=env, log_to_driver=False)
        if not self.concurrency:
            self.concurrency = max(1, int(ray.cluster_resources().get("CPU", 2)))  # type: ignore[no-untyped-call]
        self._remote = ray.remote(max_retries=0)(_execute)

    def attempt(self, ctx: Any, task: Any, bound: Any) -> tuple[dict[str, Any], Any]:
        import ray

        ref = self._remote.remote(build_spec(ctx, task, bound))
        ready, _ = ray.wait([ref], timeout=task.step.timeout)
        if not ready:
            ray.cancel(ref, force=True)
            raise StepTimeout(f"stopped after its timeout of {task.step.timeout}s (Ray worker killed)")
        return outcome(ray.get(ref), task)

    def close(self) -> None:
        pass

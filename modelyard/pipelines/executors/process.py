"""The process executor (default): steps run in worker processes this module manages.

Workers start with forkserver (spawn where there is none), are reused across
steps and pipeline runs, and at most ``max_workers`` steps run at once. A step
that overruns its ``timeout`` has its worker process killed (and replaced): the
step really stops. Inputs and outputs travel through the artifact store (small
JSON values inline in the messages).
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
import pickle
import queue
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, cast

from ..errors import StepFailed, StepTimeout
from . import build_spec, outcome

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext


class _Worker:
    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn


class WorkerPool:
    """``size`` worker processes; ``run(spec, timeout)`` on an idle one."""

    def __init__(self, size: int, method: str) -> None:
        self.size = size
        # typeshed types get_context(str) as BaseContext, which lacks Process; every concrete context has it
        self.mp = cast("ForkContext | ForkServerContext | SpawnContext", multiprocessing.get_context(method))
        if method == "forkserver":
            self.mp.set_forkserver_preload(["modelyard.pipelines.worker", "modelyard.pipelines.task"])
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(size):
            self.idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        from ..worker import main

        parent, child = self.mp.Pipe()
        process = self.mp.Process(target=main, args=(child,), name="modelyard-pipeline-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self.all.append(worker)
        return worker

    def _kill(self, worker: _Worker) -> int | None:
        with self._lock:
            if worker in self.all:
                self.all.remove(worker)
        pid = worker.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker and every process the step started
        except (OSError, AttributeError):
            worker.process.kill()
        worker.process.join(5)
        worker.conn.close()
        return cast("int | None", worker.process.exitcode)

    def run(self, spec: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        worker = self.idle.get()
        try:
            worker.conn.send_bytes(pickle.dumps(spec))
            if not worker.conn.poll(timeout):
                self._kill(worker)
                worker = self._spawn()
                raise StepTimeout(f"stopped after its timeout of {timeout}s (worker process killed)")
            return cast("dict[str, Any]", pickle.loads(worker.conn.recv_bytes()))
        except (EOFError, OSError) as exc:
            code = self._kill(worker)
            worker = self._spawn()
            raise StepFailed(f"the worker process died (exit code {code}): {exc}") from None
        finally:
            self.idle.put(worker)

    def shutdown(self) -> None:
        with self._lock:
            workers = list(self.all)
            self.all.clear()
        for w in workers:
            try:
                w.conn.send_bytes(b"")
            except OSError:
                pass
        for w in workers:
            w.process.join(2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(2)
            w.conn.close()


_pools: dict[tuple[int, str], WorkerPool] = {}
_pools_lock = threading.Lock()


def pool(size: int, method: str) -> WorkerPool:
    """The shared pool of this size and start method (started on first use)."""
    with _pools_lock:
        found = _pools.get((size, method))
        if found is None:
            found = _pools[(size, method)] = WorkerPool(size, method)
            if len(_pools) == 1:
                # Before multiprocessing's own exit handler, which would wait for the workers forever.
                multiprocessing.util.Finalize(None, shutdown_pools, exitpriority=10)
        return found


@atexit.register
def shutdown_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for p in pools:
        p.shutdown()


class ProcessExecutor:
    name = "process"
    in_process = False

    def __init__(self, max_workers: int | None = None, start_method: str | None = None) -> None:
        self.concurrency = max(1, int(max_workers or min(os.cpu_count() or 2, 8)))
        default = "forkserver" if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.start_method = start_method or default
        if self.start_method == "fork":
            raise ValueError("The process executor starts workers with forkserver or spawn, not fork.")

    def prepare(self, tracking_uri: str) -> None:
        pool(self.concurrency, self.start_method)

    def attempt(self, ctx: Any, task: Any, bound: Any) -> tuple[dict[str, Any], Any]:
        spec = build_spec(ctx, task, bound)
        result = pool(self.concurrency, self.start_method).run(spec, task.step.timeout)
        return outcome(result, task)

    def close(self) -> None:
        pass

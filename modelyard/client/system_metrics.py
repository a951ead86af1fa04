"""System metrics sampled in the background into a run (``system/...`` keys, as MLflow names them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import psutil

from ..entities import Metric

_MB = 1024 * 1024


def sample() -> dict[str, float]:
    """One reading of CPU, memory, disk and network, in MLflow's metric names."""
    mem = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    net = psutil.net_io_counters()
    return {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (mem.total - mem.available) / _MB,
        "system/system_memory_usage_percentage": mem.percent,
        "system/disk_usage_percentage": disk.percent,
        "system/disk_usage_megabytes": disk.used / _MB,
        "system/disk_available_megabytes": disk.free / _MB,
        "system/network_receive_megabytes": net.bytes_recv / _MB,
        "system/network_transmit_megabytes": net.bytes_sent / _MB,
    }


class SystemMetricsMonitor:
    """Samples every ``interval`` seconds and logs each sample as one step.

    Network counters are logged relative to the start of the run.
    """

    def __init__(self, log: Callable[[Sequence[Metric]], None], interval: float = 10.0) -> None:
        self._log = log
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-system-metrics", daemon=True)
        self._step = 0
        self._base: dict[str, float] = {}

    def start(self) -> None:
        psutil.cpu_percent(interval=None)  # prime the CPU counter
        first = sample()
        self._base = {k: v for k, v in first.items() if "network" in k}
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.log_sample()

    def log_sample(self) -> None:
        now = int(time.time() * 1000)
        values = sample()
        metrics = [Metric(k, v - self._base.get(k, 0.0), now, self._step) for k, v in values.items()]
        self._step += 1
        try:
            self._log(metrics)
        except Exception:  # the run may have ended between sample and log
            if not self._stop.is_set():
                raise

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(self._interval + 5)
            self.log_sample()  # a final reading at the end of the run

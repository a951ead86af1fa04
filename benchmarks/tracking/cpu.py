"""CPU time of a whole process tree, read from /proc.

A server's CPU is utime+stime of every live process in its tree plus the
cutime+cstime each of them holds for children it has already reaped. When a
child exits and its parent (inside the tree) waits for it, its time moves
from the child's own counters into the parent's cumulative ones, so the sum
stays continuous. Time of a child reaped by a process outside the tree (an
orphan re-parented to init) is lost; servers here do not do that.
"""

from __future__ import annotations

import os
import time

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """Return (ppid, utime+stime+cutime+cstime in ticks) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ppid, ticks


def tree_pids(root: int) -> list[int]:
    """The root and all its live descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(int(name))
        if st is not None:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by the tree rooted at `root`."""
    total = 0
    for pid in tree_pids(root):
        st = _stat(pid)
        if st is not None:
            total += st[1]
    return total / _TICK


def settled_cpu(roots: list[int], *, quiet: float = 0.15, limit: float = 3.0) -> float:
    """Sum of tree_cpu over `roots` once it stops rising (bounded by `limit` s).

    Servers may finish work after the last response (flushes, commits,
    background tasks); waiting until two samples `quiet` apart agree counts it.
    """
    deadline = time.monotonic() + limit
    last = sum(tree_cpu(r) for r in roots)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = sum(tree_cpu(r) for r in roots)
        if now == last:
            return now
        last = now
    return last


class DatabaseBackendsCpu:
    """CPU of the PostgreSQL backends serving one database, polled in a thread.

    The cluster is shared (other people's test suites use it), so summing the
    whole postmaster tree would count their work too. A backend's process title
    names its database (``postgres: 15/main: USER DB 127.0.0.1(port) idle``),
    so the children of the postmaster whose cmdline names our database are
    ours; autovacuum workers on it too. Each backend's highest tick count is
    kept, so a backend that exits still counts up to its last poll (at most one
    poll interval is lost). Shared processes (WAL writer, checkpointer,
    background writer) are not counted.
    """

    def __init__(self, postmaster: int, database: str, interval: float = 0.1) -> None:
        import threading

        self.postmaster = postmaster
        self.needle = f" {database} ".encode()
        self.interval = interval
        self.ticks: dict[tuple[int, int], int] = {}  # (pid, start time) -> max ticks
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="pg-cpu", daemon=True)
        self.thread.start()

    def _children(self) -> list[int]:
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(b")") + 2 :].split()
            if int(fields[1]) == self.postmaster:
                out.append(int(name))
        return out

    def poll(self) -> None:
        for pid in self._children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ")
                with open(f"/proc/{pid}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if self.needle not in cmd + b" ":
                continue
            fields = data[data.rindex(b")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            key = (pid, int(fields[19]))  # starttime tells a reused pid apart
            with self.lock:
                if ticks > self.ticks.get(key, 0):
                    self.ticks[key] = ticks

    def _loop(self) -> None:
        while not self.stopping.wait(self.interval):
            self.poll()

    def total(self) -> float:
        """CPU seconds used so far by the database's backends."""
        self.poll()
        with self.lock:
            return sum(self.ticks.values()) / _TICK

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2.0)

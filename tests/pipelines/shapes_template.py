"""Graph shapes for the matrix. Written into a temp folder and loaded by path (helper edits are real edits)."""

import os
import time

from modelyard.pipelines import pipeline, step

FACTOR = 10


def helper(x):
    return x * FACTOR


def mark(workdir, name):
    with open(os.path.join(workdir, name + ".log"), "a") as fh:
        fh.write("x\n")


def count(workdir, name):
    path = os.path.join(workdir, name + ".log")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


@step
def source(n: int, workdir: str) -> int:
    mark(workdir, "source")
    return n


@step
def left(x: int, i: int, workdir: str) -> int:
    mark(workdir, "left")
    return x + i


@step(retries=2, retry_delay=0.05, jitter=0.5)
def core(x: int, workdir: str, mode: str) -> int:
    mark(workdir, "core")
    if mode == "retry" and count(workdir, "core") < 2:
        raise RuntimeError("flaky the first time")
    if mode == "fail" and os.path.exists(os.path.join(workdir, "broken")):
        raise RuntimeError("broken")
    return helper(x)


@step(timeout=1.0)
def slow(x: int, workdir: str, sleep: float) -> int:
    with open(os.path.join(workdir, "slow.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(sleep)
    mark(workdir, "slow_done")
    return x


@step
def join(a: int, b: int, workdir: str) -> int:
    mark(workdir, "join")
    return a + b


@step
def total(xs: list, workdir: str) -> int:
    mark(workdir, "total")
    return sum(xs)


@step
def rows(n: int) -> list:
    return [[n, n + 1], [n + 2]]


@step
def square(x: int) -> int:
    return x * x


def _core(x, workdir, mode, sleep):
    if mode == "timeout":
        return slow(x, workdir, sleep)
    return core(x, workdir, mode)


@pipeline
def linear(workdir: str, mode: str = "plain", n: int = 3, sleep: float = 0.0):
    a = source(n, workdir)
    b = _core(a, workdir, mode, sleep)
    return join(b, 1, workdir)


@pipeline
def diamond(workdir: str, mode: str = "plain", n: int = 3, sleep: float = 0.0):
    a = source(n, workdir)
    b = left(a, 1, workdir)
    c = _core(a, workdir, mode, sleep)
    return join(b, c, workdir)


@pipeline
def fanout(workdir: str, mode: str = "plain", n: int = 3, sleep: float = 0.0):
    a = source(n, workdir)
    parts = [left(a, i, workdir) for i in range(3)]
    return _core(total(parts, workdir), workdir, mode, sleep)


@pipeline
def conditional(workdir: str, mode: str = "plain", n: int = 3, sleep: float = 0.0):
    a = source(n, workdir)
    if a > 2:
        b = _core(a, workdir, mode, sleep)
    else:
        b = left(a, 100, workdir)
    return join(b, 0, workdir)


@pipeline
def nested_map(workdir: str, mode: str = "plain", n: int = 3, sleep: float = 0.0):
    a = source(n, workdir)
    inner = [square.map(row) for row in rows(a)]
    sums = [total(r, workdir) for r in inner]
    return _core(total(sums, workdir), workdir, mode, sleep)


EXPECTED = {
    "linear": lambda n, f: n * f + 1,
    "diamond": lambda n, f: (n + 1) + n * f,
    "fanout": lambda n, f: (3 * n + 3) * f,
    "conditional": lambda n, f: n * f,
    "nested_map": lambda n, f: (n * n + (n + 1) ** 2 + (n + 2) ** 2) * f,
}

"""Small pipelines for the live-server, CLI and registry tests (loaded by path, or registered as tests.pipelines.flows)."""

import datetime as dt
import os

from modelyard.pipelines import pipeline, step


@step
def stamp(day: str, note: str) -> str:
    print(f"stamping {day}")
    return f"{note}@{day}"


@pipeline
def daily(logical_date: dt.datetime, note: str = "hi"):
    return stamp(logical_date.date().isoformat(), note)


@step
def add(a: int, b: int) -> int:
    return a + b


@pipeline
def adder(a: int = 1, b: int = 2, model_version: str = "0"):
    return add(a, add(b, int(model_version)))


class Box:  # no materializer: a step returning one stores it with pickle
    def __init__(self, value: int) -> None:
        self.value = value


@step
def boxed(n: int) -> Box:
    return Box(n)


@step
def plain(n: int) -> int:
    return n + 1


@step
def join(box: Box, m: int, flag: str) -> int:
    if flag and os.path.exists(flag):
        raise RuntimeError("broken")
    return box.value + m


@pipeline
def boxes(n: int = 2, flag: str = ""):
    return join(boxed(n), plain(n), flag)

"""Small pipelines for the live-server and CLI tests (loaded by path)."""

import datetime as dt

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

"""Fixtures of the pipeline tests: a fresh store per test, graph shapes loaded from a temp file, executors."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import modelyard as my
from modelyard.service import TrackingService
from tests.conftest import migrated_sqlite
from tests.pipelines import lease_support

HERE = os.path.dirname(__file__)
FLOWS_MODULE = "tests.pipelines.flows"  # its pipelines (daily, adder) are registered in these tests' services and servers
HAS_RAY = importlib.util.find_spec("ray") is not None
EXECUTORS = ["inline", "process", pytest.param("ray", marks=pytest.mark.skipif(not HAS_RAY and not os.environ.get("CI"),
                                                                                  reason="ray is not installed"))]


@pytest.fixture
def service(db_uri: str, tmp_path) -> Iterator[TrackingService]:
    """A TrackingService over a fresh store (SQLite and PostgreSQL) that registers the pipelines of ``flows.py``."""
    from tests.conftest import make_service

    svc = make_service(db_uri, tmp_path, pipeline_modules=FLOWS_MODULE)
    yield svc
    svc.close()


@pytest.fixture
def registered(monkeypatch) -> str:
    """Register ``flows.py``'s pipelines for server subprocesses (and embedded clients) started by the test."""
    monkeypatch.setenv("MODELYARD_PIPELINE_MODULES", FLOWS_MODULE)
    return FLOWS_MODULE


@pytest.fixture
def store(tmp_path) -> Iterator[str]:
    """A fresh embedded store, as the SDK's tracking URI."""
    uri = str(tmp_path / "store")
    migrated_sqlite(tmp_path / "store" / "modelyard.db")  # the folder store's database, at the newest schema
    my.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        my.set_tracking_uri(None)


@pytest.fixture
def shapes_file(tmp_path) -> str:
    """The graph shapes module, copied to a temp folder (edit it to change a helper)."""
    path = tmp_path / "shapes.py"
    shutil.copy(os.path.join(HERE, "shapes_template.py"), path)
    return str(path)


@pytest.fixture
def workdir(tmp_path) -> str:
    path = tmp_path / "work"
    path.mkdir()
    return str(path)


def wait_for(predicate: Callable[[], Any], timeout: float = 40.0) -> Any:
    """``predicate()``'s first truthy value, polled until ``timeout`` seconds (then AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def count(workdir: str, name: str) -> int:
    path = os.path.join(workdir, name + ".log")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


# ---- several schedulers over one store (test_tick_leases.py, test_trigger_leases.py) ----

@pytest.fixture
def clock() -> list[int]:
    return [lease_support.T0]


@pytest.fixture
def servers(service: TrackingService, clock: list[int]) -> Iterator[list[lease_support.Server]]:
    others = [TrackingService(service.settings) for _ in range(2)]
    try:
        yield [lease_support.Server(s, clock) for s in (service, *others)]
    finally:
        for s in others:
            s.close()

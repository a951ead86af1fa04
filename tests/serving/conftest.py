"""Fixtures for serving: a registered breast-cancer model in a real store, ``modelyard serve`` subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pandas as pd
import pytest

import modelyard as my
from tests.conftest import free_port


@dataclass
class Registered:
    tracking_uri: str
    name: str
    frame: pd.DataFrame  # inputs
    versions: dict[int, object]  # version -> fitted estimator

    def uri(self, alias: str = "champion") -> str:
        return f"models:/{self.name}@{alias}"


def train(c: float):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(data.data, data.target)
    return clf, data.data


def register(tracking_uri: str, name: str, versions: int = 2) -> Registered:
    """Log and register ``versions`` models (C=1, then much smaller C) and point ``champion`` at version 1."""
    my.set_tracking_uri(tracking_uri)
    try:
        fitted = {}
        frame = None
        for v in range(1, versions + 1):
            clf, frame = train(1.0 if v == 1 else 0.001)
            with my.start_run():
                info = my.models.log_model(clf, "model", input_example=frame.iloc[:3], registered_model_name=name)
            fitted[int(info.registered_model_version)] = clf
        client = my.Client(tracking_uri)
        client.set_registered_model_alias(name, "champion", 1)
        client.close()
    finally:
        while my.active_run():
            my.end_run()
        my.set_tracking_uri(None)
    return Registered(tracking_uri, name, frame, fitted)


class ServeProcess:
    """A real ``modelyard serve`` subprocess on 127.0.0.1."""

    def __init__(self, model_uri: str, tracking_uri: str, *extra: str, argv: list[str] | None = None,
                 env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="modelyard-serve-", suffix=".log", delete=False)  # noqa: SIM115
        argv = argv or [sys.executable, "-m", "modelyard.cli", "serve", model_uri, "--tracking-uri", tracking_uri,
                        "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/ping", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not start within 120 s:\n{self.output()}")

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """An embedded store (SQLite folder) with a registered model of two versions."""
    store = str(tmp_path_factory.mktemp("serving") / "store")
    return register(store, f"cancer-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def served(registered: Registered) -> Iterator[ServeProcess]:
    """``modelyard serve models:/<name>@champion`` over the embedded store; polling off."""
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0",
                        env={"MODELYARD_TRACKING_URI": registered.tracking_uri})
    try:
        yield proc
    finally:
        proc.stop()

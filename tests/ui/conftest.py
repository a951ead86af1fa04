"""UI fixtures: a seeded store, the app in process, and (for browser tests) a live server + Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelyard.server import create_app
from modelyard.service import TrackingService

from ..conftest import migrated_sqlite
from .seed import Seeded, seed, settings_for

CHROMIUM = "/usr/bin/chromium"  # Debian's: browser tests never download one
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium for a module of browser tests (each such module skips itself without Chromium)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def seeded_service(tmp_path) -> Iterator[tuple[TrackingService, Seeded]]:
    svc = TrackingService(settings_for(migrated_sqlite(tmp_path / "ui.db"), str(tmp_path / "artifacts")))
    try:
        yield svc, seed(svc)
    finally:
        svc.close()


@pytest.fixture
def ui(seeded_service) -> Iterator[tuple[httpx.Client, Seeded]]:
    """A sync httpx client on the app in process (no socket), over the seeded store.

    It holds the UI's CSRF cookie and sends its token in a header, as the pages' forms would in a field.
    """
    from starlette.testclient import TestClient

    svc, seeded = seeded_service
    with TestClient(create_app(service=svc), follow_redirects=False) as client:
        with_csrf_token(client)
        yield client, seeded


def with_csrf_token(client: httpx.Client) -> None:
    """Load a page (which sets the CSRF cookie), then send its token with every request."""
    from modelyard.server.ui.csrf import COOKIE, HEADER

    assert client.get("/").status_code == 200
    client.headers[HEADER] = client.cookies[COOKIE]

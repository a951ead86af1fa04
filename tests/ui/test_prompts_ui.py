"""Prompt pages: the list (prompts only), a prompt's versions with templates and aliases, a diff of two
versions; in process and in headless Chromium against a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.service import TrackingService

from ..conftest import LiveServer
from .seed import settings_for

TAGS = {"mlflow.prompt.is_prompt": "true"}


def _seed(svc: TrackingService) -> None:
    reg = svc.registry
    reg.create_registered_model("support-answer", {**TAGS, "team": "support"})
    for text, message in (("Answer {{question}} in one sentence.", "first"),
                          ("Answer {{question}} politely,\nin one sentence.", "be polite")):
        reg.create_model_version("support-answer", "prompt-template", description=message, tags={
            **TAGS, "_mlflow_prompt_type": "text", "mlflow.prompt.text": text})
    reg.set_registered_model_alias("support-answer", "production", 2)
    reg.create_registered_model("a-model")


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    svc = TrackingService(settings_for(f"sqlite:///{tmp_path / 'ui.db'}", str(tmp_path / "artifacts")))
    _seed(svc)
    with TestClient(create_app(service=svc), follow_redirects=False) as c:
        yield c
    svc.close()


def test_pages_in_process(client):
    listing = client.get("/prompts")
    assert listing.status_code == 200
    assert "support-answer" in listing.text and "a-model" not in listing.text
    assert "team=support" in listing.text and "mlflow.prompt.is_prompt" not in listing.text
    page = client.get("/prompts/support-answer")
    assert page.status_code == 200
    assert "be polite" in page.text and "@production" in page.text and "Answer {{question}} in one sentence." in page.text
    diff = client.get("/prompts/support-answer/diff", params={"from": 1, "to": 2})
    assert diff.status_code == 200
    assert "<del>-Answer {{question}} in one sentence.</del>" in diff.text
    assert "<ins>+Answer {{question}} politely,</ins>" in diff.text
    assert client.get("/prompts/support-answer/diff", params={"from": 1, "to": 9}).status_code == 400
    assert client.get("/prompts/support-answer/diff", params={"from": "x"}).status_code == 400
    assert client.get("/prompts/a-model").status_code == 400
    assert client.get("/prompts/missing").status_code == 404


CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def test_compare_versions_in_a_browser(tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing in CI: apt-get install chromium")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    db, artifacts = f"sqlite:///{tmp_path / 'ui.db'}", str(tmp_path / "artifacts")
    svc = TrackingService(settings_for(db, artifacts))
    _seed(svc)
    svc.close()
    server = LiveServer(db, artifacts)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(server.url + "/")
            page.get_by_role("link", name="Prompts").click()
            page.get_by_role("link", name="support-answer").click()
            assert page.locator("#v2").get_by_text("be polite").is_visible()
            page.get_by_role("button", name="Show the diff").click()
            page.wait_for_url("**/prompts/support-answer/diff?from=1&to=2")
            diff = page.locator("#prompt-diff")
            assert diff.locator("ins").first.inner_text() == "+Answer {{question}} politely,"
            assert diff.locator("del").first.inner_text() == "-Answer {{question}} in one sentence."
            browser.close()
    finally:
        server.stop()

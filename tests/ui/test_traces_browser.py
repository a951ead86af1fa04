"""The trace pages in headless Debian Chromium (Playwright) against a real ``modelyard server``:
the span tree is virtualised (only rows in view are in the DOM), expands, collapses, finds, and
shows a span's details on click."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from modelyard.service import TrackingService

from ..conftest import LiveServer
from .conftest import CHROMIUM, FLAGS
from .seed import settings_for
from .test_browser import shot
from .trace_seed import XSS, TraceSeed, seed_traces

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, TraceSeed]]:
    folder = tmp_path_factory.mktemp("traces-site")
    db, artifacts = f"sqlite:///{folder / 'ui.db'}", str(folder / "artifacts")
    svc = TrackingService(settings_for(db, artifacts))
    seeded = seed_traces(svc, svc.experiments.create("rag"), big_spans=5000)
    svc.close()
    server = LiveServer(db, artifacts)
    try:
        yield server.url, seeded
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(site) -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=site[0])
        p = context.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield p
        finally:
            browser.close()
        assert not errors, errors


def rows(page) -> list[str]:
    return page.locator("#span-tree .span-row .col-name").all_inner_texts()


def test_big_trace_tree_is_virtualised(page, site):
    _, s = site
    page.goto(f"/traces/{s.big}")
    page.wait_for_selector("#span-tree[data-ready]")
    assert page.locator("#span-count").inner_text() == str(s.big_spans)
    shown = page.locator("#span-tree .span-row").count()
    assert 10 < shown < 120  # a screenful and some overscan, not 5,000 rows
    assert "agent" in rows(page)[0]
    page.wait_for_selector("#span-detail h3")  # the root is selected on load
    assert page.locator("#span-detail h3").inner_text().startswith("agent")
    page.locator("#span-tree").evaluate("el => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); }")
    page.wait_for_function("() => [...document.querySelectorAll('#span-tree .span-row .col-name')]"
                           ".some(e => e.textContent.includes('step-49-'))")
    assert page.locator("#span-tree .span-row").count() < 120
    shot(page, "trace-big")


def test_collapse_expand_find_and_select(page, site):
    _, s = site
    page.goto(f"/traces/{s.big}")
    page.wait_for_selector("#span-tree[data-ready]")
    page.click("#spans-collapse")
    assert rows(page) == ["▸agentAGENT (50)"]
    page.locator("#span-tree .span-row .twisty").first.click()
    assert rows(page)[1].startswith("▸chain-0") and rows(page)[2].startswith("▸chain-1")
    assert page.locator("#span-tree .span-spacer").evaluate("e => e.style.height") == f"{51 * 24}px"
    page.fill("#span-find", "step-31-77")
    page.wait_for_function("() => document.getElementById('span-found').textContent === '1 found'")
    hit = page.locator("#span-tree .span-row.match")
    assert hit.count() == 1 and "step-31-77" in hit.inner_text()
    hit.click()
    page.wait_for_function("() => document.querySelector('#span-detail h3').textContent.includes('step-31-77')")


def test_small_trace_shows_payloads_and_error(page, site):
    _, s = site
    page.goto(f"/traces/{s.small}")
    page.wait_for_selector("#span-tree[data-ready]")
    assert rows(page)[0].startswith("▾" + XSS)  # drawn as text, never as markup
    page.wait_for_selector("#span-inputs")
    assert "refund policy" in page.locator("#span-inputs").inner_text()
    error_row = page.locator("#span-tree .span-row.error")
    assert error_row.count() == 1 and "generate" in error_row.inner_text()
    error_row.click()
    page.wait_for_function("() => document.querySelector('#span-detail h3').textContent.includes('generate')")
    assert "tiny-llm" in page.locator("#span-detail").inner_text()
    shot(page, "trace-small")


def test_list_filters_and_opens_a_trace(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}/traces")
    page.fill("#traces-q", "span.name = 'retrieve'")
    page.click("#traces-search button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('table.traces tbody a').length === 1")
    shot(page, "traces-list")
    page.locator("table.traces tbody a").first.click()
    page.wait_for_selector("#span-tree[data-ready]")
    assert page.url.endswith(f"/traces/{s.small}")


def test_review_queue_in_the_browser(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}/review")
    item = page.locator(f"#review-{s.small}")
    assert item.count() == 1 and "refund policy" in item.inner_text()
    item.locator("input[name=rationale]").fill("polite and right")
    item.locator("button.vote-yes").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/experiments/{s.experiment_id}/review")
    assert page.locator(f"#review-{s.small}").count() == 0  # reviewed: off the queue
    shot(page, "review-queue")
    page.goto(f"/traces/{s.small}")
    row = page.locator("#assessments tbody tr").first
    assert "human_review" in row.inner_text() and "true" in row.inner_text() and "polite and right" in row.inner_text()
    form = page.locator("#assessments form.expectation-form")
    form.locator("input[name=value]").fill("30 days")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#assessments tbody tr:nth-child(2)")
    assert "expected_response" in page.locator("#assessments").inner_text()

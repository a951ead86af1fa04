"""The admin page in headless Chromium against a real ``modelyard server --auth``: sign in, create an
account and grant it a level through the page's forms, see both in the tables and the audit trail."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from tests.conftest import LiveServer

from ..ui import test_browser as tb
from ..ui.conftest import CHROMIUM, FLAGS

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin-browser")
    env = {"MODELYARD_AUTH_ADMIN_USERNAME": "root", "MODELYARD_AUTH_ADMIN_PASSWORD": PASSWORD}
    with mock.patch.dict(os.environ, env):  # the server process inherits them
        server = LiveServer(f"sqlite:///{tmp / 'admin.db'}", str(tmp / "artifacts"), "--auth")
    try:
        yield server.url
    finally:
        server.stop()


def test_an_admin_manages_accounts_and_grants_in_the_browser(site):
    expect = tb.sync_api.expect
    with tb.sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/admin")
            page.fill("#username", "root")
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/admin")
            expect(page.locator("header .user")).to_contain_text("root")
            page.get_by_label("Username").fill("ana")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Create account").click()
            expect(page.locator("#users")).to_contain_text("ana")
            page.locator("#grant-name").fill("ana")
            page.locator("#grant-id").fill("0")
            page.locator("#grant-level").select_option("EDIT")
            page.get_by_role("button", name="Grant").click()
            expect(page.locator("#grants")).to_contain_text("experiment 0")
            expect(page.locator("#grants")).to_contain_text("EDIT")
            expect(page.locator("#audit")).to_contain_text("grant_permission")
            tb.shot(page, "admin")
            assert not errors, errors
        finally:
            browser.close()

"""The web UI keeps a user in the workspace they browse: on a page opened with ``?workspace=prod`` (or the
``X-MLFLOW-WORKSPACE`` header) every same-site link, form and htmx URL carries ``workspace=prod``, and following
them shows prod's model ``m``, never default's model of the same name (a real server, SQLite)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

API = "/api/2.0/mlflow"
URL_ATTRIBUTES = ("href", "action", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")


class Links(HTMLParser):
    """The same-site URLs of a page (not its static files), and the hidden fields of each GET form."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.get_forms: list[dict[str, str]] = []
        self.open_form: dict[str, str] | None = None  # the hidden fields of the GET form being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in URL_ATTRIBUTES:
            url = found.get(name)
            if url and url.startswith(("/", "?")) and not url.startswith(("//", "/static/")):
                self.urls.append(url)
        if tag == "form" and (found.get("method") or "get").lower() == "get":
            self.open_form = {}
            self.get_forms.append(self.open_form)
        field = found.get("name")
        if tag == "input" and found.get("type") == "hidden" and self.open_form is not None and field:
            self.open_form[field] = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.open_form = None


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def workspace_of(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("workspace", [])


@pytest.fixture
def two_models(sqlite_live_server) -> tuple[httpx.Client, dict[str, str]]:
    """A model ``m`` in ``default`` and another in ``prod``, each with version 1 from a run of its workspace, a
    ``team`` tag naming its workspace and alias ``champion``; and the run id of each workspace."""
    client = httpx.Client(base_url=sqlite_live_server.url, timeout=30)
    runs = {}
    assert client.post("/api/3.0/mlflow/workspaces", json={"name": "prod"}).status_code == 201
    for team in ("default", "prod"):
        headers = {"X-MLFLOW-WORKSPACE": team}
        experiment = client.post(f"{API}/experiments/create", json={"name": f"exp-{team}"}, headers=headers)
        assert experiment.status_code == 200, experiment.text
        run = client.post(f"{API}/runs/create", json={"experiment_id": experiment.json()["experiment_id"],
                                                      "run_name": f"run-{team}"}, headers=headers)
        run_id = runs[team] = run.json()["run"]["info"]["run_id"]
        for path, body in (("registered-models/create", {"name": "m"}),
                           ("registered-models/set-tag", {"name": "m", "key": "team", "value": f"team-{team}"}),
                           ("model-versions/create", {"name": "m", "source": f"runs:/{run_id}/model",
                                                      "run_id": run_id}),
                           ("registered-models/alias", {"name": "m", "alias": "champion", "version": "1"})):
            made = client.post(f"{API}/{path}", json=body, headers=headers)
            assert made.status_code == 200, (path, made.text)
    return client, runs


def test_links_on_a_prod_page_stay_in_prod(two_models):
    client, runs = two_models
    html = {"Accept": "text/html"}
    page = client.get("/models/m", params={"workspace": "prod"}, headers=html)
    assert page.status_code == 200 and "team-prod" in page.text and "team-default" not in page.text
    found = links(page.text)
    paths = {urlsplit(u).path for u in found.urls}
    assert {"/models", "/models/m/versions/1", f"/runs/{runs['prod']}", "/models/m/tags"} <= paths, found.urls
    assert [u for u in found.urls if workspace_of(u) != ["prod"]] == []
    assert found.get_forms and all(form.get("workspace") == "prod" for form in found.get_forms)
    # Following the page's links: prod's version 1 (made from prod's run), back to prod's model, prod's run.
    version = client.get(next(u for u in found.urls if urlsplit(u).path == "/models/m/versions/1"), headers=html)
    assert version.status_code == 200 and runs["prod"] in version.text and runs["default"] not in version.text
    onward = links(version.text).urls
    assert onward and [u for u in onward if workspace_of(u) != ["prod"]] == []
    back = next(u for u in onward if urlsplit(u).path == "/models/m")
    assert "team-prod" in client.get(back, headers=html).text
    run = client.get(next(u for u in onward if urlsplit(u).path == f"/runs/{runs['prod']}"), headers=html)
    assert run.status_code == 200 and "run-prod" in run.text
    listed = client.get(next(u for u in found.urls if urlsplit(u).path == "/models"), headers=html)
    model_link = next(u for u in links(listed.text).urls if urlsplit(u).path == "/models/m")
    assert workspace_of(model_link) == ["prod"] and "team-prod" in client.get(model_link, headers=html).text
    # The same page named by the header rather than the query: its links carry the query all the same.
    by_header = client.get("/models/m", headers={**html, "X-MLFLOW-WORKSPACE": "prod"})
    assert "team-prod" in by_header.text
    assert [u for u in links(by_header.text).urls if workspace_of(u) != ["prod"]] == []
    # A form of a prod page: it sets the tag on prod's m and lands back on prod's model page.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    tag_form = next(u for u in found.urls if urlsplit(u).path == "/models/m/tags")
    posted = client.post(tag_form, data={"csrf_token": token.group(1), "key": "via", "value": "ui"}, headers=html)
    assert posted.status_code == 303 and workspace_of(posted.headers["location"]) == ["prod"], posted.text[-500:]
    assert "team-prod" in client.get(posted.headers["location"], headers=html).text
    tags = {ws: {t["key"]: t["value"] for t in client.get(f"{API}/registered-models/get", params={"name": "m"},
                                                          headers={"X-MLFLOW-WORKSPACE": ws}).json()
                 ["registered_model"]["tags"]} for ws in ("default", "prod")}
    assert tags["prod"].get("via") == "ui" and "via" not in tags["default"]
    # The default workspace's page: its links name no workspace, and show default's model.
    default = client.get("/models/m", headers=html)
    assert "team-default" in default.text and "team-prod" not in default.text
    assert [u for u in links(default.text).urls if workspace_of(u)] == []
    client.close()


def test_links_built_by_the_pages_scripts_stay_in_prod(two_models):
    """Links made in the browser — the chart board's run and metric links, MLflow's ``/#/models/m`` fragment
    link — keep the page's workspace, as the server's links do, in headless Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.ui.conftest import CHROMIUM, FLAGS

    client, runs = two_models
    prod, run_id = {"X-MLFLOW-WORKSPACE": "prod"}, runs["prod"]
    experiment = client.get(f"{API}/runs/get", params={"run_id": run_id}, headers=prod).json()["run"]["info"]
    for step in range(3):
        logged = client.post(f"{API}/runs/log-metric", headers=prod, json={
            "run_id": run_id, "key": "loss", "value": 1 / (step + 1), "timestamp": 1000 + step, "step": step})
        assert logged.status_code == 200, logged.text
    expect = sync_api.expect
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_context(base_url=str(client.base_url)).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # MLflow's link to model m, opened at "/" in prod: prod's m (default holds one of the same name).
            page.goto("/?workspace=prod#/models/m")
            page.wait_for_url("**/models/m?workspace=prod")
            expect(page.locator("main")).to_contain_text("team-prod")
            # The chart board builds its links in the browser: each keeps workspace=prod, and clicking goes there.
            board = f"/experiments/{experiment['experiment_id']}/charts?workspace=prod"
            page.goto(board)
            run_link = page.locator("#run-toggles a", has_text="run-prod")
            expect(run_link).to_have_attribute("href", f"/runs/{run_id}?workspace=prod")
            run_link.click()
            page.wait_for_url(f"**/runs/{run_id}?workspace=prod")
            expect(page.locator("main")).to_contain_text("run-prod")
            page.goto(board)
            page.locator(".panel[data-metric='loss'] figcaption a").click()
            page.wait_for_url(re.compile(r"/metric\?.*workspace=prod"))
            expect(page.locator("body")).to_have_attribute("data-workspace", "prod")
            assert not errors, errors
        finally:
            browser.close()
    client.close()

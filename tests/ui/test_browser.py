"""The UI in headless Debian Chromium (Playwright) against a real ``modelyard server`` subprocess.

Screenshots of every page land in ``tests/ui/screenshots/`` (or ``$MODELYARD_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.service import TrackingService

from ..conftest import LiveServer, migrated_sqlite
from .conftest import CHROMIUM, FLAGS  # noqa: F401  (FLAGS: other browser tests take both from here)
from .seed import Seeded, seed, settings_for

SHOTS = Path(os.environ.get("MODELYARD_UI_SCREENSHOTS") or Path(__file__).parent / "screenshots")

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing in CI: apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, Seeded]]:
    folder = tmp_path_factory.mktemp("ui-site")
    db, artifacts = migrated_sqlite(folder / "ui.db"), str(folder / "artifacts")
    svc = TrackingService(settings_for(db, artifacts))
    seeded = seed(svc)
    svc.close()
    server = LiveServer(db, artifacts)
    try:
        yield server.url, seeded
    finally:
        server.stop()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=site[0])
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("dialog", lambda dialog: dialog.accept())
    yield p
    context.close()
    assert not errors, errors


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def runs_in_table(page) -> list[str]:
    return page.locator("table.runs tbody td.name a").all_inner_texts()


def test_search_and_sort_runs(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    shot(page, "experiment-runs")
    page.get_by_label("Filter runs").fill("params.model != 'linear'")
    page.get_by_label("Filter runs").press("Enter")
    sync_api.expect(page).to_have_url(re.compile(r"q=params\.model"))
    sync_api.expect(page.locator("table.runs")).not_to_contain_text("linear-b")
    assert set(runs_in_table(page)) == {"tree-a", "forest-c"}
    page.get_by_role("link", name="rmse").first.click()
    sync_api.expect(page).to_have_url(re.compile(r"order=metrics\.rmse"))
    sync_api.expect(page.locator("table.runs th[aria-sort='descending']")).to_have_count(1)
    assert runs_in_table(page) == ["tree-a", "forest-c"]
    page.get_by_role("link", name="rmse").first.click()
    sync_api.expect(page.locator("table.runs th[aria-sort='ascending']")).to_have_count(1)
    assert runs_in_table(page) == ["forest-c", "tree-a"]
    shot(page, "experiment-runs-filtered-sorted")
    page.reload()  # the URL alone restores the filtered, sorted table
    assert runs_in_table(page) == ["forest-c", "tree-a"]


def test_bad_filter_shows_inline_error(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    page.get_by_label("Filter runs").fill("metrics.rmse <")
    page.get_by_role("button", name="Search").click()
    alert = page.locator("#runs-error")
    sync_api.expect(alert).to_be_visible()
    sync_api.expect(alert).to_contain_text("Invalid filter")
    shot(page, "experiment-bad-filter")


def test_group_nested_runs_and_chart(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}?group=1")
    sync_api.expect(page.locator("tr.depth-1")).to_contain_text("tree-a-fold1")
    page.goto(f"/experiments/{s.experiment_id}?view=chart&metric=rmse&run={s.runs['tree-a']}&run={s.runs['forest-c']}")
    sync_api.expect(page.locator(".panel[data-metric='rmse'] canvas")).to_have_count(1)  # the chart board
    shot(page, "experiment-chart")


def test_open_run_and_preview_artifacts(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    page.get_by_role("link", name="tree-a", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/"))
    sync_api.expect(page.locator("#overview")).to_contain_text("abc123def")
    sync_api.expect(page.locator("#datasets")).to_contain_text("customers")
    sync_api.expect(page.locator("#charts canvas").first).to_be_visible()
    page.get_by_role("link", name="notes.txt").click()
    sync_api.expect(page.locator("#preview")).to_contain_text("hello from the run notes")
    page.locator("summary", has_text="data").click()
    page.get_by_role("link", name="predictions.csv").click()
    sync_api.expect(page.locator("#preview table.csv td", has_text="0.77")).to_be_visible()
    page.locator("summary", has_text="plots").click()
    page.get_by_role("link", name="curve.png").click()
    image = page.locator("#preview img")
    sync_api.expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('#preview img').naturalWidth > 0")
    page.get_by_role("link", name="report.html").click()
    sync_api.expect(page.locator("#preview iframe[sandbox]")).to_be_visible()
    assert page.title() != "pwned"
    page.locator("summary", has_text="model").click()
    page.get_by_role("link", name="open model").click()
    sync_api.expect(page.locator("#preview")).to_contain_text("scikit-learn==1.5.0")
    shot(page, "run")
    page.get_by_role("textbox", name="Description").fill("Better than *baseline*.")
    page.get_by_role("button", name="Save description").click()
    sync_api.expect(page.locator("#description")).to_contain_text("Saved.")


def test_run_updates_live_while_running(page, site):
    url, s = site
    page.goto(f"/runs/{s.runs['live-run']}")
    sync_api.expect(page.locator("#metrics .live")).to_be_visible()
    httpx.post(f"{url}/api/2.0/mlflow/runs/log-metric", json={
        "run_id": s.runs["live-run"], "key": "val_acc", "value": 0.9, "timestamp": int(time.time() * 1000), "step": 1,
    }).raise_for_status()
    sync_api.expect(page.locator("#metrics")).to_contain_text("val_acc", timeout=12_000)
    shot(page, "run-live")


def test_compare_three_runs(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    for name in ("tree-a", "linear-b", "forest-c"):
        page.get_by_label(re.compile(rf"^Select run {name} \(")).check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    sync_api.expect(page.locator("h1")).to_have_text("Compare 3 runs")
    sync_api.expect(page.locator("polyline.pc-line")).to_have_count(3)
    sync_api.expect(page.locator("svg circle")).to_have_count(3)
    sync_api.expect(page.locator("tr.differs")).to_have_count(3)
    sync_api.expect(page.locator("section canvas").first).to_be_visible()
    shot(page, "compare")


def test_set_alias_on_model_version(page, site):
    _, s = site
    page.goto("/models")
    shot(page, "models")
    page.get_by_role("link", name=s.model).click()
    sync_api.expect(page.locator("h1")).to_have_text(s.model)
    shot(page, "model")
    page.get_by_role("link", name="Version 2").click()
    page.get_by_label("Set or move alias to this version").fill("champion")
    page.get_by_role("button", name="Set alias").click()
    sync_api.expect(page.locator("h1 .alias")).to_have_text("@champion")
    sync_api.expect(page.locator("#h-audit + table")).to_contain_text("set registered model alias")
    page.get_by_label("Set or move alias to this version").fill("bad alias!")
    page.get_by_role("button", name="Set alias").click()
    sync_api.expect(page.locator("#alias-error")).to_be_visible()
    shot(page, "model-version")


def test_create_rename_delete_experiment(page, site):
    page.goto("/")
    page.get_by_label("New experiment").fill("from-the-browser")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/experiments/\d+"))
    page.goto("/")
    row = page.locator("tr", has_text="from-the-browser")
    row.locator("summary", has_text="Rename").click()
    row.get_by_label("New name for from-the-browser").fill("renamed-in-browser")
    row.get_by_role("button", name="Save").click()
    sync_api.expect(page.locator("#experiments")).to_contain_text("renamed-in-browser")
    shot(page, "experiments")
    page.get_by_role("button", name="Delete renamed-in-browser").click()
    sync_api.expect(page.locator("#experiments")).not_to_contain_text("renamed-in-browser")
    page.get_by_label("Show").select_option("deleted")
    sync_api.expect(page.locator("#experiments")).to_contain_text("renamed-in-browser")
    page.get_by_label("Search experiments").fill("renamed")
    sync_api.expect(page.locator("#experiments tbody tr")).to_have_count(1)


def test_mlflow_links_land_on_the_same_page(page, site):
    _, s = site
    a = s.runs["tree-a"]
    for link, path, heading in (
        (f"/#/experiments/{s.experiment_id}", f"/experiments/{s.experiment_id}", "churn"),
        (f"/#/experiments/{s.experiment_id}/runs/{a}", f"/runs/{a}", "tree-a"),
        (f"/#/experiments/{s.experiment_id}/runs/{a}/artifacts/model", f"/runs/{a}", "tree-a"),
        (f"/#/models/{s.model}/versions/2", f"/models/{s.model}/versions/2", s.model),
        (f"/#/models/{s.model}", f"/models/{s.model}", s.model),
    ):
        page.goto(link)
        page.wait_for_url(re.compile(re.escape(path) + "$"))
        sync_api.expect(page.locator("h1")).to_contain_text(heading)
    shots(page, "mlflow-link-model")
    page.goto("/#/no-such-page")  # an unknown fragment stays on the experiments list
    sync_api.expect(page.locator("h1")).to_have_text("Experiments")
    shot(page, "mlflow-link-fallback")


def test_run_children_system_tags_and_empty_states(page, site):
    _, s = site
    page.goto(f"/runs/{s.runs['tree-a']}")
    page.locator("#children").get_by_role("link", name="tree-a-fold1").click()
    page.wait_for_url(re.compile(re.escape(f"/runs/{s.runs['tree-a-fold1']}") + "$"))
    system = page.locator("details.system-tags")
    parent_link = system.get_by_role("link", name=s.runs["tree-a"])
    sync_api.expect(parent_link).to_be_hidden()  # mlflow.* tags start collapsed
    system.locator("summary").click()
    parent_link.click()
    page.wait_for_url(re.compile(re.escape(f"/runs/{s.runs['tree-a']}") + "$"))
    shot(page, "run-parent")
    page.goto("/compare")
    sync_api.expect(page.locator("#compare-empty")).to_contain_text("Compare selected")
    shot(page, "compare-empty")
    page.goto(f"/experiments/{s.other_experiment_id}")
    sync_api.expect(page.locator("#runs-empty pre")).to_contain_text('my.set_experiment("scratch")')
    shot(page, "experiment-empty")


AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = (1440, 1024)


def shots(page, name: str) -> None:
    """Screenshots of the page at a laptop's and a small screen's width."""
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"{name}-{width}")
    page.set_viewport_size(size)


def test_runs_table_fits_the_screen_and_keeps_the_name_in_view(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    wrap = page.locator("#runs .table-wrap")
    shots(page, "runs-table")
    widths = wrap.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], f"the runs table is wider than a 1440 px screen: {widths}"
    assert page.locator("table.runs tbody tr").first.evaluate("tr => tr.getBoundingClientRect().height") < 40
    page.set_viewport_size({"width": 1024, "height": 900})
    name = page.locator("table.runs td.name").first
    before = name.bounding_box()["x"]
    wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    page.wait_for_function("() => document.querySelector('#runs .table-wrap').scrollLeft > 0")
    assert abs(name.bounding_box()["x"] - before) < 1  # sticky: it stays where it was
    shot(page, "runs-table-scrolled-1024")


def test_expand_a_parent_to_see_its_nested_runs(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}?group=1")
    child = page.locator("tr.depth-1").filter(has_text="tree-a-fold1")
    sync_api.expect(child).to_be_hidden()
    toggle = page.get_by_role("button", name="Show the 1 nested runs of tree-a")
    sync_api.expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    sync_api.expect(child).to_be_visible()
    sync_api.expect(toggle).to_have_attribute("aria-expanded", "true")
    shots(page, "runs-table-expanded")
    toggle.click()
    sync_api.expect(child).to_be_hidden()


def test_delete_runs_then_undo(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}?q=params.model+%21%3D+%27tree%27")
    page.get_by_label(re.compile(r"^Select run linear-b")).check()
    page.get_by_label(re.compile(r"^Select run forest-c")).check()
    page.get_by_role("button", name="Delete selected").click()
    notice = page.locator("#runs-notice")
    sync_api.expect(notice).to_contain_text(re.compile(r"Deleted 2 runs: (linear-b, forest-c|forest-c, linear-b)\."))
    assert "linear-b" not in runs_in_table(page) and "forest-c" not in runs_in_table(page)
    sync_api.expect(page).to_have_url(re.compile(r"q=params\.model"))
    shots(page, "runs-deleted-undo")
    page.get_by_role("link", name="Deleted", exact=True).click()
    sync_api.expect(page.locator("table.runs")).to_contain_text("forest-c")
    page.go_back()
    page.get_by_role("link", name="Active", exact=True).click()  # the notice went with the POST's answer
    page.goto(f"/experiments/{s.experiment_id}?show=deleted")
    assert sorted(runs_in_table(page)) == ["forest-c", "linear-b"]
    page.get_by_label(re.compile(r"^Select run linear-b")).check()
    page.get_by_label(re.compile(r"^Select run forest-c")).check()
    page.get_by_role("button", name="Restore selected").click()
    sync_api.expect(page.locator("#runs-notice")).to_contain_text("Restored 2 runs")
    page.goto(f"/experiments/{s.experiment_id}")
    page.get_by_label(re.compile(r"^Select run linear-b")).check()
    page.get_by_role("button", name="Delete selected").click()
    sync_api.expect(page.locator("#runs-notice")).to_contain_text("Deleted 1 run: linear-b.")
    page.get_by_role("button", name="Undo").click()
    sync_api.expect(page.locator("#runs-notice")).to_contain_text("Restored 1 run: linear-b.")
    assert "linear-b" in runs_in_table(page)


def test_edit_a_model_description_and_compare_two_versions(page, site):
    _, s = site
    page.goto(f"/models/{s.model}")
    page.locator("#description summary").click()
    page.get_by_role("textbox", name=re.compile("^Description")).fill("Predicts **churn** for the growth team.\n\n- trained weekly")
    page.get_by_role("button", name="Save description").click()
    sync_api.expect(page.locator("#description .markdown strong")).to_have_text("churn")
    sync_api.expect(page.locator("#description .markdown li")).to_have_text("trained weekly")
    page.get_by_label("Key").fill("owner")
    page.get_by_label("Value").fill("ana")
    page.get_by_role("button", name="Set tag").click()
    sync_api.expect(page.locator("#tags")).to_contain_text("owner")
    shots(page, "model-edited")
    page.get_by_label("Compare version 1").check()
    page.get_by_label("Compare version 2").check()
    page.get_by_role("button", name="Compare two versions").click()
    page.wait_for_url(re.compile(r"/compare\?version=\d&version=\d$"))
    sync_api.expect(page.locator("table.compare-versions")).to_contain_text("forest-c")
    sync_api.expect(page.locator("table.compare-versions tr.differs").first).to_be_visible()
    shots(page, "model-versions-compared")
    page.get_by_role("link", name="Version 2", exact=True).click()
    page.wait_for_url(re.compile(r"/versions/2$"))
    page.get_by_role("textbox", name=re.compile("^Description")).fill("Retrained on *May* data.")  # open: none yet
    page.get_by_role("button", name="Save description").click()
    sync_api.expect(page.locator("#description .markdown em")).to_have_text("May")
    shots(page, "model-version-edited")


def test_group_runs_by_a_param_fold_a_group_and_the_choice_is_remembered(page, site):
    _, s = site
    base = f"/experiments/{s.experiment_id}"
    page.goto(base)
    page.get_by_label("Group by").select_option("params:model")
    heads = page.locator("table.runs tr.group-head")
    sync_api.expect(heads).to_have_count(4)  # forest, linear, tree and the runs without the param
    sync_api.expect(page).to_have_url(re.compile(r"groupby=params%3Amodel"))
    tree = heads.filter(has_text="= tree")
    sync_api.expect(tree).to_contain_text("1 run")
    shots(page, "runs-grouped")
    row = page.locator("table.runs tbody tr").filter(has=page.locator("a", has_text=re.compile("^tree-a$")))
    sync_api.expect(row).to_be_visible()
    fold = tree.get_by_role("button", name=re.compile(r"^Fold the group model = tree"))
    fold.click()
    sync_api.expect(row).to_be_hidden()
    sync_api.expect(tree.get_by_role("button")).to_have_attribute("aria-expanded", "false")
    sync_api.expect(page.locator("table.runs tbody tr").filter(has_text="linear-b")).to_be_visible()
    shots(page, "runs-grouped-folded")
    tree.get_by_role("button", name=re.compile(r"^Unfold")).click()
    sync_api.expect(row).to_be_visible()
    page.goto(base)  # remembered for this experiment
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(4)
    sync_api.expect(page.get_by_label("Group by")).to_have_value("params:model")
    page.goto(f"/experiments/{s.other_experiment_id}")
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(0)
    page.goto(base)
    page.get_by_label("Group by").select_option("-")
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(0)
    page.goto(base)
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(0)


def test_tag_the_selected_runs_then_remove_the_tag(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    page.get_by_label(re.compile(r"^Select run linear-b")).check()
    page.get_by_label(re.compile(r"^Select run forest-c")).check()
    page.get_by_text("Tag selected").click()
    page.get_by_label("Key", exact=True).fill("stage")
    page.get_by_label("Value", exact=True).fill("candidate")
    shots(page, "runs-tag-form")
    page.get_by_role("button", name="Add tag").click()
    sync_api.expect(page.locator("#runs-notice")).to_contain_text(
        re.compile(r"Tagged 2 runs with stage=candidate: (linear-b, forest-c|forest-c, linear-b)\."))
    page.get_by_label("Group by").select_option("tags:stage")  # the new tag groups the table
    sync_api.expect(page.locator("table.runs tr.group-head").filter(has_text="= candidate")).to_contain_text("2 runs")
    page.get_by_label("Group by").select_option("-")
    page.goto(f"/runs/{s.runs['forest-c']}")
    sync_api.expect(page.locator("body")).to_contain_text("candidate")
    page.goto(f"/experiments/{s.experiment_id}")
    for name in ("linear-b", "forest-c", "tree-a"):
        page.get_by_label(re.compile(rf"^Select run {name} \(")).check()
    page.get_by_text("Tag selected").click()
    page.get_by_label("Key", exact=True).fill("stage")
    page.get_by_role("button", name="Remove tag").click()
    sync_api.expect(page.locator("#runs-notice")).to_contain_text(re.compile(r"Removed tag stage from 2 runs"))
    page.goto(f"/runs/{s.runs['forest-c']}")
    sync_api.expect(page.locator("body")).not_to_contain_text("candidate")


AXE_PAGES = ("/", "/experiments/{exp}", "/experiments/{exp}?group=1", "/experiments/{exp}?groupby=params:model",
             "/experiments/{exp}/charts", "/metric?key=rmse&run={run}&run={run2}", "/runs/{run}", "/compare?run={run}&run={run2}",
             "/compare", "/models", "/models/{model}", "/models/{model}/versions/1",
             "/models/{model}/compare?version=1&version=2", "/pipelines", "/monitors")


SERIOUS = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""


def test_main_pages_have_no_serious_accessibility_violations(page, site):
    _, s = site
    page.goto("/")
    page.add_script_tag(path=str(AXE))
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/favicon.ico\">')")
    assert any(v.startswith("image-alt") for v in page.evaluate(SERIOUS))  # axe runs and sees what it should
    bad = {}
    for template in AXE_PAGES:
        url = template.format(exp=s.experiment_id, run=s.runs["tree-a"], run2=s.runs["forest-c"], model=s.model)
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        if found := page.evaluate(SERIOUS):
            bad[url] = found
    assert not bad, bad

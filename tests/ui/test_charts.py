"""The chart board, the metric page and the run page's charts in headless Debian Chromium (Playwright),
against a real ``modelyard server`` subprocess: add a chart, group, zoom, save the layout, reload.

Screenshots at 1440 and 1024 px land in ``tests/ui/screenshots/`` (or ``$MODELYARD_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from modelyard.entities import Metric, Param
from modelyard.server.ui.charts import run_color
from modelyard.service import TrackingService

from ..conftest import LiveServer
from .seed import XSS_NAME, Seeded, seed, settings_for
from .test_browser import shot, sync_api

SIZES = ((1440, 900), (1024, 768))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, Seeded]]:
    """The UI seed plus two more runs named like an existing one (``tree-a``), with 200-step losses."""
    folder = tmp_path_factory.mktemp("charts-site")
    db, artifacts = f"sqlite:///{folder / 'ui.db'}", str(folder / "artifacts")
    svc = TrackingService(settings_for(db, artifacts))
    seeded = seed(svc)
    now = int(time.time() * 1000) - 1_000_000
    for i, model in enumerate(("tree", "linear")):
        run = svc.runs.create(seeded.experiment_id, start_time=now + i, run_name="tree-a", user_id="bo")
        rid = run.info.run_id
        svc.runs.log_batch(rid, metrics=[Metric("rmse", 2.0 / (s + 1) + i * 0.1, now + s * 1000, s) for s in range(200)]
                           + [Metric("accuracy", 0.7 + i / 10, now, 0)], params=[Param("model", model)])
        svc.runs.update(rid, status="FINISHED", end_time=now + 300_000)
        seeded.runs[f"tree-a#{i + 2}"] = rid
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
    yield p
    context.close()
    assert not errors, errors


def shots(page, name: str) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # the charts follow the new width (ResizeObserver)
        shot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1440, "height": 900})


def drawn(page, count: int) -> None:
    sync_api.expect(page.locator("#panels .plot[data-drawn='1']")).to_have_count(count)


def test_default_board_bars_lines_and_colours(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}/charts")
    # accuracy, loss, rmse (and system/cpu_percent in its own section)
    drawn(page, 3)
    accuracy = page.locator("#panels .panel[data-metric='accuracy'] .plot")
    sync_api.expect(accuracy).to_have_attribute("data-kind", "bar")  # single values: bars, not dots at step 0
    assert int(accuracy.get_attribute("data-bars") or 0) >= 5
    rmse = page.locator("#panels .panel[data-metric='rmse'] .plot")
    sync_api.expect(rmse).to_have_attribute("data-kind", "line")
    sync_api.expect(rmse.locator("canvas")).to_have_count(1)
    sync_api.expect(page.locator("#system-section")).to_be_visible()
    sync_api.expect(page.locator("#system-panels .panel[data-metric='system/cpu_percent']")).to_have_count(1)
    # Runs of the same name are told apart by a short id; each run keeps its colour.
    twin = s.runs["tree-a#2"]
    sync_api.expect(page.locator("#run-toggles")).to_contain_text(f"tree-a · {twin[:7]}")
    swatch = page.locator("#run-toggles li", has_text=twin[:7]).locator(".swatch")
    colour = swatch.evaluate("e => getComputedStyle(e).backgroundColor")
    want = run_color(twin)
    assert colour == "rgb({}, {}, {})".format(*(int(want[i:i + 2], 16) for i in (1, 3, 5)))
    assert page.evaluate(f"modelyardCharts.colorOf('{twin}')") == want
    # The min / max / last of each run under a line chart.
    page.locator(".panel[data-metric='rmse'] .panel-stats summary").click()
    sync_api.expect(page.locator(".panel[data-metric='rmse'] table.stats")).to_contain_text("tree-a")
    shots(page, "board-default")


def test_add_chart_group_zoom_save_and_reload(page, site):
    _, s = site
    url = f"/experiments/{s.experiment_id}/charts"
    page.goto(url)
    drawn(page, 3)
    # + Add chart: a scatter of rmse against lr, and parallel coordinates.
    page.get_by_text("+ Add chart").click()
    page.locator("#add-type").select_option("scatter")
    page.locator("#add-x").select_option("params:lr")
    page.locator("#add-y").select_option("metrics:rmse")
    page.get_by_role("button", name="Add", exact=True).click()
    scatter = page.locator(".panel[data-type='scatter'] .plot")
    sync_api.expect(scatter).to_have_attribute("data-kind", "scatter")
    assert int(scatter.get_attribute("data-points") or 0) == 3  # the runs with an lr param
    page.get_by_text("+ Add chart").click()
    page.locator("#add-type").select_option("parallel")
    page.locator("#add-axes").select_option(["params:depth", "params:lr", "metrics:rmse"])
    page.get_by_role("button", name="Add", exact=True).click()
    sync_api.expect(page.locator(".panel[data-type='parallel'] polyline.pc-line")).to_have_count(3)
    sync_api.expect(page.locator("#layout-status")).to_have_text("Unsaved changes.")
    # Group by model: the rmse chart draws one mean per group (with its min-max band).
    page.get_by_label("Group by").select_option("params:model")
    rmse = page.locator("#panels .panel[data-metric='rmse'] .plot")
    sync_api.expect(rmse).to_have_attribute("data-kind", "line")
    sync_api.expect(rmse).to_have_attribute("data-series", "4")  # forest, linear, tree, (none)
    page.locator(".panel[data-metric='rmse'] .panel-stats summary").click()
    sync_api.expect(page.locator(".panel[data-metric='rmse'] table.stats")).to_contain_text("model=tree (2) mean")
    shots(page, "board-grouped")
    # Zoom: drag across the chart; the x range narrows and the hover box shows values.
    before = float(rmse.get_attribute("data-xmax") or 0)
    box = rmse.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    sync_api.expect(rmse.locator(".plot-tip")).to_be_visible()
    sync_api.expect(rmse.locator(".plot-tip")).to_contain_text("step")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    sync_api.expect(rmse).to_have_attribute("data-zoomed", "1")
    assert float(rmse.get_attribute("data-xmax") or 0) < before
    # Panel settings: log scale and smoothing are part of the layout.
    panel = page.locator("#panels .panel[data-metric='rmse']")
    panel.get_by_label("Settings of rmse").click()
    panel.get_by_label("Log scale").check()
    panel.get_by_label("X axis").select_option("relative")
    shots(page, "board-edited")
    page.get_by_role("button", name="Save layout").click()
    sync_api.expect(page.locator("#layout-status")).to_contain_text("Saved")
    # A colleague (another browser context) opens the experiment: the same board.
    other = page.context.browser.new_context(base_url=site[0], viewport={"width": 1440, "height": 900})
    p2 = other.new_page()
    p2.goto(url)
    sync_api.expect(p2.locator(".panel[data-type='scatter'] svg circle")).to_have_count(3)
    sync_api.expect(p2.locator(".panel[data-type='parallel'] polyline")).to_have_count(3)
    sync_api.expect(p2.get_by_label("Group by")).to_have_value("params:model")
    sync_api.expect(p2.locator("#layout-status")).to_contain_text("Saved layout")
    layout = json.loads(p2.locator("#board-data").text_content() or "{}")["layout"]
    rmse_panel = next(p for p in layout["panels"] if p.get("metric") == "rmse")
    assert rmse_panel["log"] is True and rmse_panel["x"] == "relative"
    other.close()
    # Remove a panel, then reset to the default board.
    page.get_by_role("button", name="Remove Parallel coordinates").click()
    sync_api.expect(page.locator(".panel[data-type='parallel']")).to_have_count(0)
    page.get_by_role("button", name="Reset to default").click()
    sync_api.expect(page.locator("#layout-status")).to_contain_text("Default layout")
    sync_api.expect(page.locator(".panel[data-type='scatter']")).to_have_count(0)


def test_board_follows_filter_and_selection(page, site):
    _, s = site
    page.goto(f"/experiments/{s.experiment_id}")
    for name in ("linear-b", "forest-c"):
        page.get_by_label(re.compile(rf"^Select run {name} \(")).check()
    page.get_by_role("button", name="Chart selected").click()
    page.wait_for_url(re.compile(r"/charts\?run="))
    sync_api.expect(page.locator("#run-toggles li")).to_have_count(2)
    drawn(page, 2)  # accuracy, rmse: the two runs have no loss
    # Hiding a run redraws the charts without it.
    rmse = page.locator("#panels .panel[data-metric='rmse'] .plot")
    sync_api.expect(rmse).to_have_attribute("data-series", "2")
    page.get_by_label("Show linear-b").uncheck()
    sync_api.expect(rmse).to_have_attribute("data-series", "1")
    page.goto(f"/experiments/{s.experiment_id}/charts?q=params.model+%3D+%27tree%27")
    sync_api.expect(page.locator("#run-toggles li")).to_have_count(2)
    page.goto(f"/experiments/{s.experiment_id}/charts?q=metrics.rmse+%3C")
    sync_api.expect(page.locator("#board-error")).to_contain_text("Invalid filter")
    page.goto(f"/experiments/{s.experiment_id}/charts?run={'0' * 32}")
    sync_api.expect(page.locator("#board-error")).to_contain_text("Cannot chart the selected runs")


def test_the_board_groups_as_the_runs_table_does_and_back(page, site):
    _, s = site
    base = f"/experiments/{s.experiment_id}"
    page.goto(base)
    page.get_by_label("Group by").select_option("params:model")
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(4)
    page.get_by_role("link", name="Chart", exact=True).click()
    page.wait_for_url(re.compile(r"/charts"))
    sync_api.expect(page.get_by_label("Group by")).to_have_value("params:model")
    rmse = page.locator("#panels .panel[data-metric='rmse'] .plot")
    sync_api.expect(rmse).to_have_attribute("data-series", "4")  # a mean per model, with its band
    shots(page, "board-grouped-from-table")
    page.get_by_label("Group by").select_option("")  # ungrouped here: the table follows
    sync_api.expect(rmse).to_have_attribute("data-series", "6")  # every run with an rmse
    page.goto(base)
    sync_api.expect(page.locator("table.runs tr.group-head")).to_have_count(0)
    page.get_by_label("Group by").select_option("tags:team")
    sync_api.expect(page.locator("table.runs tr.group-head").first).to_contain_text("team = growth")
    page.goto(f"{base}/charts")
    sync_api.expect(page.get_by_label("Group by")).to_have_value("tags:team")


def test_metric_page_and_run_charts(page, site):
    _, s = site
    a, twin = s.runs["tree-a"], s.runs["tree-a#2"]
    page.goto(f"/runs/{a}")
    charts = page.locator("#charts")
    sync_api.expect(charts.locator(".plot[data-key='rmse'] canvas")).to_have_count(1)
    sync_api.expect(charts.locator(".plot[data-key='accuracy'] .single-value")).to_contain_text("one value")
    big = charts.locator(".plot[data-key='rmse']").bounding_box()
    assert big is not None and big["height"] >= 240 and big["width"] >= 400
    sync_api.expect(charts.locator("details.system-charts")).to_be_visible()
    charts.get_by_label("X axis").select_option("time")
    sync_api.expect(charts.locator(".plot[data-key='rmse'] canvas")).to_have_count(1)
    shots(page, "run-charts")
    page.goto(f"/metric?key=rmse&run={a}&run={twin}")
    plot = page.locator("#panels .plot")
    sync_api.expect(plot).to_have_attribute("data-kind", "line")
    assert int(plot.get_attribute("data-points") or 0) == 250  # the full histories: 50 + 200 points
    page.get_by_label("Smoothing").fill("0.9")
    page.get_by_label("Smoothing").dispatch_event("change")
    sync_api.expect(plot.locator("canvas")).to_have_count(1)
    page.get_by_label("Metric").select_option("accuracy")
    page.wait_for_url(re.compile(r"key=accuracy"))
    sync_api.expect(page.locator("#panels .plot")).to_have_attribute("data-kind", "bar")
    shots(page, "metric-page")


def test_layout_needs_edit_and_csrf(site):
    url, s = site
    with httpx.Client(base_url=url) as http:
        denied = http.post(f"/experiments/{s.experiment_id}/charts/layout", data={"layout": "{}"})
        assert denied.status_code == 403  # no CSRF token
        http.get(f"/experiments/{s.experiment_id}/charts")
        token = http.cookies["modelyard_csrf"]
        bad = http.post(f"/experiments/{s.experiment_id}/charts/layout",
                        data={"layout": json.dumps({"panels": [{"type": "line"}]}), "csrf_token": token})
        assert bad.status_code == 400
        assert "layout.panels[0].metric" in bad.json()["message"]
        api = http.post("/api/2.0/modelyard/chart-boards/set", json={
            "experiment_id": s.experiment_id, "layout": {"panels": [{"type": "bar", "metric": "accuracy"}]}})
        assert api.status_code == 200, api.text
        page = http.get(f"/experiments/{s.experiment_id}/charts").text
        assert '"panels": [{"metric": "accuracy", "type": "bar"}]' in page
        assert XSS_NAME not in page and "\\u003cscript\\u003e" in page  # run names travel as escaped JSON
        assert http.post("/api/2.0/modelyard/chart-boards/delete", json={"experiment_id": s.experiment_id}).status_code == 200


def test_run_charts_follow_a_running_run(page, site):
    url, s = site
    live = s.runs["live-run"]
    page.goto(f"/runs/{live}")
    loss = page.locator("#charts .plot[data-key='loss']")
    sync_api.expect(loss).to_have_attribute("data-kind", "single")
    now = int(time.time() * 1000)
    httpx.post(f"{url}/api/2.0/mlflow/runs/log-batch", json={"run_id": live, "metrics": [
        {"key": "loss", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s} for s in range(1, 6)]}).raise_for_status()
    sync_api.expect(loss).to_have_attribute("data-kind", "line", timeout=15_000)  # polled every 5 s while running
    sync_api.expect(loss.locator("canvas")).to_have_count(1)

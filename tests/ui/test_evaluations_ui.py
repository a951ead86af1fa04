"""Evaluation comparison: a dataset's evaluations and two evaluations side by side (per-row outputs, scores,
judge rationales and tokens, aggregate differences, regressions, cost with the judges'), reached from the
run page; in headless Chromium against a live server, with screenshots and an axe-core check."""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import modelyard as my
from tests.tracing.test_evaluate import _Judge

from ..conftest import LiveServer, migrated_sqlite
from .conftest import CHROMIUM, FLAGS

QUESTIONS = [{"inputs": {"question": "refunds?"}, "expectations": {"answer": "30 days"}},
             {"inputs": {"question": "hours?"}, "expectations": {"answer": "9 to 5"}},
             {"inputs": {"question": "<b>shipping?</b>"}, "expectations": {"answer": "2 days"}}]
GOOD = {"refunds?": "Refunds take 30 days.", "hours?": "We open 9 to 5.", "<b>shipping?</b>": "It ships in 2 days."}


def good(question: str) -> str:
    return GOOD[question]


def mentions(outputs: str, expectations: dict[str, Any]) -> bool:
    return expectations["answer"] in outputs


class Site:
    url: str
    dataset_id: str
    baseline: str
    candidate: str
    inline: str
    mlflow_run: str


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("evals-site")
    server = LiveServer(migrated_sqlite(folder / "ui.db"), str(folder / "artifacts"))
    judge = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    threading.Thread(target=judge.serve_forever, daemon=True).start()
    judge_url = f"http://127.0.0.1:{judge.server_address[1]}/v1"
    old_cwd = os.getcwd()
    os.chdir(folder)
    try:
        my.set_tracking_uri(server.url)
        exp = my.set_experiment("support-evals")
        client = my.Client(server.url)
        client.set_llm_price("tiny-judge*", 2.0, 10.0, cached_input_per_million=0.5)
        ds = client.create_dataset("support-qa", experiment_ids=[exp.experiment_id])
        client.merge_records(ds["dataset_id"], QUESTIONS)
        contains = my.tracing.make_judge("contains", "Does the output contain the expected answer? yes or no.",
                                         model="tiny-judge", base_url=judge_url)
        s = Site()
        s.url, s.dataset_id = server.url, ds["dataset_id"]
        s.baseline = my.tracing.evaluate(ds["dataset_id"], [mentions, contains], predict_fn=good,
                                         run_name="prompt-v1", use_cache=False).run_id

        def worse(question: str) -> str:  # forgets the opening hours
            return "Sorry, I do not know." if question == "hours?" else GOOD[question]

        s.candidate = my.tracing.evaluate(ds["dataset_id"], [mentions, contains], predict_fn=worse,
                                          run_name="prompt-v2", use_cache=False).run_id
        s.inline = my.tracing.evaluate(QUESTIONS[:1], [mentions], predict_fn=good,
                                       run_name="inline", use_cache=False).run_id
        s.mlflow_run = _mlflow_evaluation(server.url, exp.experiment_id)
        yield s
    finally:
        os.chdir(old_cwd)
        my.set_tracking_uri(None)
        judge.shutdown()
        judge.server_close()
        server.stop()


def _mlflow_evaluation(url: str, experiment_id: str) -> str:
    """The official client's evaluation of the same questions: its rows are traces with feedback."""
    import mlflow
    from mlflow.genai.scorers import scorer

    @scorer(name="mentions")
    def mlflow_mentions(outputs: str, expectations: dict[str, str]) -> bool:
        return bool(expectations["answer"] in outputs)

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(experiment_id=experiment_id)
    with warnings.catch_warnings():  # MLflow warns about its own type hints
        warnings.simplefilter("ignore", UserWarning)
        result = mlflow.genai.evaluate(data=QUESTIONS, scorers=[mlflow_mentions],
                                       predict_fn=lambda question: "30 days" if "refund" in question else "no idea")
    return str(result.run_id)


def test_an_mlflow_evaluation_compares_through_its_traces(site: Site) -> None:
    page = httpx.get(f"{site.url}/evaluations/compare", params=[("run", site.baseline), ("run", site.mlflow_run)])
    assert page.status_code == 200, page.text
    assert "No per-row results" not in page.text
    assert "no idea" in page.text and page.text.count('class="regressed"') == 2  # hours and shipping regressed
    assert "(-0.6667, regressed)" in page.text


def test_pages_and_bad_requests(site: Site) -> None:
    page = httpx.get(f"{site.url}/datasets/{site.dataset_id}")
    assert page.status_code == 200
    assert "prompt-v1" in page.text and "prompt-v2" in page.text and "inline" not in page.text
    assert "&lt;b&gt;shipping?&lt;/b&gt;" in page.text and "<b>shipping" not in page.text  # escaped
    compare = httpx.get(f"{site.url}/evaluations/compare", params=[("run", site.candidate), ("run", site.baseline)])
    assert compare.status_code == 200
    # The oldest run is the baseline, whatever the order asked; the candidate lost 1/3 on both scorers.
    assert compare.text.index("prompt-v1") < compare.text.index("prompt-v2")
    assert compare.text.count("(-0.3333, regressed)") == 2
    assert "2 regressed scores" in compare.text
    # Each cell links to its row's trace, which carries the scores as feedback.
    links = re.findall(r'class="row-trace" href="/traces/(tr-[0-9a-f]+)"', compare.text)
    assert len(links) == 6 and len(set(links)) == 6
    info = my.Client(site.url).get_trace(links[0])[0]
    assert {a["assessment_name"] for a in info.assessments} >= {"mentions", "contains"}
    one = httpx.get(f"{site.url}/evaluations/compare", params={"run": site.baseline})
    assert one.status_code == 400 and "Choose two or more evaluation runs" in one.text
    assert httpx.get(f"{site.url}/datasets/d-missing").status_code == 404
    run_page = httpx.get(f"{site.url}/runs/{site.inline}")
    assert "an evaluation of inline rows" in run_page.text


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")
def test_compare_evaluations_in_a_browser(site: Site) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from .test_browser import AXE, SERIOUS, shots

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=site.url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # From the candidate's run page to its dataset's evaluations, then compare the two checked.
        page.goto(f"/runs/{site.candidate}")
        page.get_by_role("link", name="compare with the other evaluations of its dataset").click()
        page.wait_for_url(f"**/datasets/{site.dataset_id}")
        sync_api.expect(page.get_by_label("Compare prompt-v1")).to_be_checked()
        sync_api.expect(page.get_by_label("Compare prompt-v2")).to_be_checked()
        shots(page, "evaluation-dataset")
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(SERIOUS) == []
        page.get_by_role("button", name="Compare selected").click()
        page.wait_for_url(re.compile(r"/evaluations/compare\?run="))

        aggregates = page.locator("#aggregates")
        sync_api.expect(aggregates.locator("tr[data-scorer='mentions'] .diff")).to_have_text("(-0.3333, regressed)")
        sync_api.expect(aggregates.locator("#cost-row")).to_contain_text("USD")
        regressed = page.locator("#eval-rows tr.regressed")
        sync_api.expect(regressed).to_have_count(1)
        sync_api.expect(regressed).to_contain_text("hours?")
        sync_api.expect(regressed).to_contain_text("Sorry, I do not know.")
        sync_api.expect(regressed.locator(".verdict-regressed")).to_have_count(2)
        sync_api.expect(regressed.locator(".why").last).to_have_text("missing")  # the judge's rationale
        sync_api.expect(regressed.locator(".tokens").first).to_contain_text("judge: 1000 in / 50 out tokens")
        sync_api.expect(page.locator("#regression-count")).to_have_text("2 regressed scores")
        shots(page, "evaluation-compare")
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(SERIOUS) == []
        context.close()
        browser.close()
        assert not errors, errors

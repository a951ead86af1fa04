"""The review queue in process: traces awaiting feedback, feedback and expectations logged from the
page (CSRF, EDIT permission), and the assessments exported as a dataset (JSON Lines, CSV)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from modelyard.server import create_app
from modelyard.settings import Settings

from .trace_seed import TraceSeed, seed_traces

PASSWORD = "correct horse battery"
CSRF_SECRET = "review csrf secret"


def _basic(user: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[httpx.Client, TraceSeed]]:
    """A server with authentication: users ``read`` (READ) and ``edit`` (EDIT) on the experiment."""
    from starlette.testclient import TestClient

    folder = tmp_path_factory.mktemp("review")
    settings = Settings(backend_store_uri=f"sqlite:///{folder / 'ui.db'}", artifacts_destination=str(folder / "a"),
                        background_workers=False, auth=True, auth_admin_username="root", auth_admin_password=PASSWORD,
                        auth_default_permission="NO_PERMISSIONS", csrf_secret=CSRF_SECRET)
    with TestClient(create_app(settings), follow_redirects=False) as http:
        svc = http.app.state.service  # type: ignore[attr-defined]
        seeded = seed_traces(svc, svc.experiments.create("review"), big_spans=30)
        for user in ("read", "edit"):
            svc.auth.create_user(user, PASSWORD)
            svc.auth.grant(user, "experiment", seeded.experiment_id, user.upper())
        yield http, seeded


def _csrf(http: httpx.Client, user: str, url: str) -> str:
    html = http.get(url, headers=_basic(user)).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def queue(http: httpx.Client, exp: str, user: str = "edit", **params: str) -> list[str]:
    r = http.get(f"/experiments/{exp}/review", params=params, headers=_basic(user))
    assert r.status_code == 200, r.text[:300]
    return re.findall(r'id="review-(tr-[0-9a-f]{32})"', r.text)


def test_feedback_from_the_page_takes_a_trace_off_the_queue(site):
    http, s = site
    assert s.small in queue(http, s.experiment_id) and len(queue(http, s.experiment_id)) == 12
    token = _csrf(http, "edit", f"/experiments/{s.experiment_id}/review")
    http.cookies.set("modelyard_csrf", token)
    form = {"csrf_token": token, "kind": "feedback", "name": "human_review", "value": ["yes", ""],  # button, text
            "rationale": "cites the policy", "next": f"/experiments/{s.experiment_id}/review"}
    r = http.post(f"/traces/{s.small}/assessments", data=form, headers=_basic("edit"))
    assert r.status_code == 303 and r.headers["location"] == f"/experiments/{s.experiment_id}/review"
    assert s.small not in queue(http, s.experiment_id) and len(queue(http, s.experiment_id)) == 11
    assert s.small in queue(http, s.experiment_id, name="helpfulness")  # another question: still to review
    expectation = {**form, "kind": "expectation", "name": "expected_response", "value": '{"days": 30}'}
    assert http.post(f"/traces/{s.small}/assessments", data=expectation, headers=_basic("edit")).status_code == 303
    info = http.app.state.service.traces.get_info(s.small)  # type: ignore[attr-defined]
    by_name = {a["assessment_name"]: a for a in info.assessments}
    assert by_name["human_review"]["feedback"]["value"] is True
    assert by_name["human_review"]["source"] == {"source_type": "HUMAN", "source_id": "edit"}
    assert by_name["expected_response"]["expectation"]["value"] == {"days": 30}
    page = http.get(f"/traces/{s.small}", headers=_basic("read")).text
    assert "cites the policy" in page and "human_review" in page
    # The filter narrows the queue with MLflow's grammar.
    assert queue(http, s.experiment_id, q="trace.name = 'ping-3'") == [f"tr-{103:032x}"]


def test_bad_forms_are_refused_with_a_clear_error(site):
    http, s = site
    token = _csrf(http, "edit", f"/traces/{s.big}")
    http.cookies.set("modelyard_csrf", token)
    base = {"csrf_token": token, "kind": "feedback", "name": "human_review", "value": "0.5"}
    for changes, words in (({"value": " "}, "Missing value for &#39;value&#39;"), ({"name": ""}, "assessment_name"),
                           ({"kind": "vote"}, "Invalid kind")):
        r = http.post(f"/traces/{s.big}/assessments", data={**base, **changes}, headers=_basic("edit"))
        assert r.status_code == 400 and words in r.text, (changes, r.text[:300])
    r = http.post(f"/traces/{s.big}/assessments", data={**base, "csrf_token": "forged.token"}, headers=_basic("edit"))
    assert r.status_code == 403 and "CSRF" in r.text
    r = http.post(f"/traces/{s.big}/assessments", data={**base, "next": "//evil.example/"}, headers=_basic("edit"))
    assert r.status_code == 303 and r.headers["location"] == f"/traces/{s.big}#assessments"
    assert queue(http, s.experiment_id, q="trace.name = 'ping-3'", name="") == [f"tr-{103:032x}"]
    assert "Invalid feedback name" in http.get(f"/experiments/{s.experiment_id}/review", params={"name": "a`b"},
                                               headers=_basic("edit")).text


def test_permissions_read_sees_edit_writes_nobody_learns_nothing(site):
    http, s = site
    token = _csrf(http, "read", f"/experiments/{s.experiment_id}/review")
    http.cookies.set("modelyard_csrf", token)
    form = {"csrf_token": token, "kind": "feedback", "name": "by-reader", "value": "no"}
    assert http.post(f"/traces/{s.big}/assessments", data=form, headers=_basic("read")).status_code == 403
    http.app.state.service.auth.create_user("stranger", PASSWORD)  # type: ignore[attr-defined]
    for url in (f"/experiments/{s.experiment_id}/review", f"/experiments/{s.experiment_id}/traces",
                f"/traces/{s.big}", f"/traces/{s.big}/spans/{1:016x}",
                f"/experiments/{s.experiment_id}/assessments.csv"):
        r = http.get(url, headers=_basic("stranger"))
        assert r.status_code == 403 and s.big not in r.text, url
    assert http.post(f"/traces/{s.big}/assessments", data=form, headers=_basic("stranger")).status_code == 403
    assert http.get(f"/experiments/{s.experiment_id}/traces").status_code in (302, 303, 401)


def test_export_as_a_dataset(site):
    http, s = site
    svc = http.app.state.service  # type: ignore[attr-defined]
    svc.assessments.create({"trace_id": s.big, "assessment_name": "formula", "feedback": {"value": "=HYPERLINK(1)"},
                            "source": {"source_type": "CODE", "source_id": "check.py"}})
    r = http.get(f"/experiments/{s.experiment_id}/assessments.jsonl", headers=_basic("read"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    rows = [json.loads(line) for line in r.text.splitlines()]
    mine = [row for row in rows if row["trace_id"] == s.small]
    assert {row["name"] for row in mine} >= {"human_review", "expected_response"}
    review = next(row for row in mine if row["name"] == "human_review")
    assert review["inputs"] == {"question": "What is the refund policy?"}
    assert review["outputs"] == "30 days, no questions asked" and review["value"] is True and review["kind"] == "feedback"
    table = list(csv.DictReader(io.StringIO(http.get(f"/experiments/{s.experiment_id}/assessments.csv",
                                                     headers=_basic("read")).text)))
    assert len(table) == len(rows)
    assert next(t for t in table if t["name"] == "formula")["value"] == "'=HYPERLINK(1)"
    assert http.get(f"/experiments/{s.experiment_id}/assessments.xml", headers=_basic("read")).status_code == 400


def test_export_pages_through_every_assessment(site):
    http, s = site
    svc = http.app.state.service  # type: ignore[attr-defined]
    whole, after, pages = [], None, 0
    for _ in range(50):  # bounded
        rows, after = svc.assessments.export_page(s.experiment_id, after, 2)
        whole += rows
        pages += 1
        if after is None:
            break
    assert pages >= 2 and len({r["assessment_id"] for r in whole}) == len(whole)
    streamed = http.get(f"/experiments/{s.experiment_id}/assessments.jsonl", headers=_basic("read")).text.splitlines()
    assert len(streamed) == len(whole)

"""examples/tag_prediction: both variants trained and tracked, the best served with tags, feedback scored, the app."""

from __future__ import annotations

import gzip
import json
import sys
import time
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from modelyard.client import Client
from tests.conftest import free_port
from tests.serving.conftest import ServeProcess

from .support import BIN, EXAMPLES, example_env, run

pytest.importorskip("sklearn")
streamlit_testing = pytest.importorskip("streamlit.testing.v1")

FOLDER = EXAMPLES / "tag_prediction"
NAME = "question-tagger"
CHAMPION = f"models:/{NAME}@champion"
QUESTIONS = [
    {"title": "python3-requests", "body": "elegant and simple HTTP library for Python3, built for human beings"},
    {"title": "libfoo-perl", "body": "Perl module to parse CSV files"},
    {"title": "zzzz", "body": "qqqq"},  # no known word: the tags the intercepts give, if any
]


def wait_for_log(client: Client, count: int) -> list:
    """The request log is written off the request path: wait (bounded) until ``count`` requests are in it."""
    for _ in range(100):
        records = client.search_inference_requests(NAME)
        if len(records) >= count:
            return records
        time.sleep(0.1)
    raise AssertionError(f"the request log has {len(records)} of {count} requests")


def test_stackoverflow_loader_reads_questions_of_posts_xml(tmp_path: Path) -> None:
    sys.path.insert(0, str(FOLDER))
    try:
        from tagsets import keep_top_tags, load_stackoverflow
    finally:
        sys.path.remove(str(FOLDER))
    posts = ET.Element("posts")
    rows = [
        {"Id": "1", "PostTypeId": "1", "Title": "Merge two frames", "Body": "<p>How do I &amp; why?</p>",
         "Tags": "<python><pandas>"},
        {"Id": "2", "PostTypeId": "2", "Body": "<p>An answer</p>"},
        {"Id": "3", "PostTypeId": "1", "Title": "Sort a list", "Body": "<p>Sorting</p>", "Tags": "|python|"},
        {"Id": "4", "PostTypeId": "1", "Title": "Untagged"},
    ]
    for attrs in rows:
        ET.SubElement(posts, "row", attrs)
    ET.ElementTree(posts).write(tmp_path / "Posts.xml", encoding="utf-8", xml_declaration=True)

    frame = load_stackoverflow(tmp_path)  # the dump's folder, or the file itself
    assert frame.to_dict("records") == [
        {"title": "Merge two frames", "body": "How do I & why?", "tags": ["python", "pandas"]},
        {"title": "Sort a list", "body": "Sorting", "tags": ["python"]},
    ]
    assert load_stackoverflow(tmp_path / "Posts.xml", limit=1)["title"].tolist() == ["Merge two frames"]
    assert keep_top_tags(frame, 1)["tags"].tolist() == [["python"], ["python"]]
    with pytest.raises(FileNotFoundError, match="No Posts.xml"):
        load_stackoverflow(tmp_path / "missing")


DUMPAVAIL = """\
Package: python3-yaml
Version: 6.0-3
Description: YAML parser and emitter for Python3
 Python3-yaml is a complete YAML 1.1 parser
 .
 and emitter.
Tag: devel::lang:python, devel::library, implemented-in::c,
 implemented-in::python, special::not-yet-tagged

Package: python3-yaml
Version: 5.0-1
Description: an older stanza of the same package
Tag: role::program

Package: libyaml-perl
Description: Perl module for YAML
Tag: devel::library, implemented-in::c, implemented-in::perl

Package: untagged
Description: has no tags

"""


def test_build_debtags_reads_dumpavail_stanzas(tmp_path: Path) -> None:
    (tmp_path / "dumpavail.txt").write_text(DUMPAVAIL, encoding="utf-8")
    out = run([sys.executable, str(FOLDER / "build_debtags.py"), "--input", "dumpavail.txt", "--output",
               "slice.jsonl.gz", "--tags", "2"], tmp_path, example_env(tmp_path / "store")).stdout
    assert "2 tagged packages; wrote 2 with 2 tags" in out
    with gzip.open(tmp_path / "slice.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = sorted((json.loads(line) for line in fh), key=lambda r: r["title"])
    assert rows == [
        {"title": "libyaml-perl", "body": "Perl module for YAML", "tags": ["devel::library", "implemented-in::c"]},
        {"title": "python3-yaml",
         "body": "YAML parser and emitter for Python3 Python3-yaml is a complete YAML 1.1 parser and emitter.",
         "tags": ["devel::library", "implemented-in::c"]},
    ]


def test_tag_prediction_end_to_end(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = example_env(store)
    out = run([sys.executable, str(FOLDER / "train.py"), "--small"], tmp_path, env).stdout
    assert f"registered {NAME} version 1, alias champion" in out
    assert f"modelyard serve {CHAMPION}" in out

    with closing(Client(str(store))) as client:
        experiment = client.get_experiment_by_name("tag-prediction")
        runs = {r.info.run_name: r for r in client.search_runs(experiment.experiment_id).items}
        assert set(runs) == {"tfidf-logreg", "lsa-logreg"}
        for r in runs.values():
            assert r.info.status == "FINISHED" and r.data.tags["data"] == "debtags"
            metrics = r.data.metrics
            assert {"jaccard", "f1_micro", "f1_macro", "prediction_rate"} <= set(metrics)
            # Always answering the most frequent tag (devel::library, in a third of the rows) scores about 0.2.
            assert 0.35 < metrics["jaccard"] <= 1
            assert 0 < metrics["f1_macro"] <= 1 and 0 < metrics["f1_micro"] <= 1
        best = max(runs.values(), key=lambda r: r.data.metrics["jaccard"])
        version = client.get_model_version(NAME, 1)
        assert version.run_id == best.info.run_id and version.aliases == ["champion"]

    # A real `modelyard serve` with default flags: the model is class + arrays, no pickle to allow.
    port = free_port()
    server = ServeProcess(CHAMPION, str(store), port=port, env={**env, "PYTHONPATH": str(FOLDER)},
                          argv=[str(BIN / "modelyard"), "serve", CHAMPION, "--port", str(port)])
    try:
        answer = httpx.post(server.url + "/invocations", json={"dataframe_records": QUESTIONS}, timeout=30)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert [set(p) for p in predictions] == [{"predicted_tags"}] * 3
        assert "implemented-in::perl" in predictions[1]["predicted_tags"]
        first_id = answer.headers["x-request-id"]
        # Feedback on the three rows of that request: the right tags of each (the second as predicted).
        truth = [["devel::library", "implemented-in::python"], predictions[1]["predicted_tags"], ["role::program"]]
        assert httpx.post(server.url + "/feedback", json={"request_id": first_id, "label": truth},
                          timeout=30).json() == {"logged": 1}

        # The Streamlit app against the live server: predict, then "these tags are wrong" with a correction.
        app = streamlit_testing.AppTest.from_file(str(FOLDER / "app.py"), default_timeout=30)
        app.run()
        assert app.title[0].value == "Tag prediction" and not app.exception
        app.text_input(key="url").input(server.url)
        app.text_input(key="title").input("libyaml-libyaml-perl")
        app.text_area(key="body").input("Perl module to read and write YAML").run()  # the button waits for a title
        app.button(key="predict").click().run()
        assert not app.exception and not app.error
        app_tags = app.session_state["tags"]
        assert "implemented-in::perl" in app_tags
        app.text_input(key="correction").input("implemented-in::perl, devel::library").run()
        app.button(key="wrong").click().run()
        assert not app.error and app.success[0].value == "Feedback sent: implemented-in::perl, devel::library"
        app_request = app.session_state["request_id"]
    finally:
        server.stop()

    with closing(Client(str(store))) as client:
        records = {r.request_id: r for r in wait_for_log(client, 2)}
    assert records[first_id].label == truth
    assert records[app_request].label == ["implemented-in::perl", "devel::library"]
    assert records[app_request].outputs == [{"predicted_tags": app_tags}]

    # The report from the log and the feedback: four inputs, all with feedback.
    report = json.loads(run([sys.executable, str(FOLDER / "feedback_report.py"), "--json"], tmp_path, env).stdout)
    app_truth = {"implemented-in::perl", "devel::library"}
    rows = [(set(p["predicted_tags"]), set(t)) for p, t in zip(predictions, truth)]
    rows.append((set(app_tags), app_truth))
    jaccard = sum(len(p & t) / len(p | t) for p, t in rows) / 4
    tp = sum(len(p & t) for p, t in rows)
    predicted, actual = sum(len(p) for p, _ in rows), sum(len(t) for _, t in rows)
    assert report["inputs"] == 4 and report["with_feedback"] == 4
    assert report["prediction_rate"] == pytest.approx(sum(1 for p, _ in rows if p) / 4)
    assert report["jaccard"] == pytest.approx(jaccard)
    assert report["f1_micro"] == pytest.approx(2 * tp / (predicted + actual))
    assert 0 <= report["f1_macro"] <= 1


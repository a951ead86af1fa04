"""The UI page handlers in process (no browser): statuses, escaping, inline errors, writes."""

from __future__ import annotations

from urllib.parse import quote

from .seed import XSS_NAME

HX = {"HX-Request": "true"}


def test_every_page_renders(ui):
    client, s = ui
    a = s.runs["tree-a"]
    for url in (
        "/", "/?view=deleted", f"/experiments/{s.experiment_id}", f"/experiments/{s.experiment_id}?group=1",
        f"/experiments/{s.experiment_id}/charts", f"/metric?key=rmse&run={a}", f"/runs/{a}", f"/runs/{a}?artifact=model",
        f"/runs/{s.runs['live-run']}", f"/compare?run={a}&run={s.runs['forest-c']}", "/models",
        "/models/churn-model", "/models/churn-model/versions/1", "/static/app.css", "/static/vendor/uPlot.iife.min.js",
    ):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])


def test_user_content_is_escaped(ui):
    client, s = ui
    for url in (f"/experiments/{s.experiment_id}", f"/runs/{s.runs['xss']}", f"/compare?run={s.runs['xss']}"):
        html = client.get(url).text
        assert XSS_NAME not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in client.get(f"/runs/{s.runs['xss']}").text


def test_missing_things_are_html_error_pages(ui):
    client, _ = ui
    for url in ("/runs/0123456789abcdef0123456789abcdef", "/models/nope", "/experiments/999",
                "/compare?run=0123456789abcdef0123456789abcdef"):
        r = client.get(url)
        assert r.status_code in (400, 404)
        assert r.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in r.text


def test_runs_search_sort_and_group(ui):
    client, s = ui
    base = f"/experiments/{s.experiment_id}"
    html = client.get(base, params={"q": "params.model = 'tree'"}).text
    assert "tree-a" in html and "linear-b" not in html
    html = client.get(base, params={"order": "metrics.rmse ASC", "col": "metrics:rmse"}).text
    assert html.index("forest-c") < html.index("tree-a") < html.index("linear-b")
    assert 'aria-sort="ascending"' in html
    grouped = client.get(base, params={"group": "1"}).text
    assert 'class="depth-1"' in grouped and "tree-a-fold1" in grouped


def test_bad_filter_is_an_inline_error(ui):
    client, s = ui
    r = client.get(f"/experiments/{s.experiment_id}", params={"q": "metrics.rmse <"})
    assert r.status_code == 400
    assert 'id="runs-error"' in r.text and "Invalid filter" in r.text
    assert client.get(f"/experiments/{s.experiment_id}", params={"q": "metrics.rmse <"}, headers=HX).status_code == 200


def test_pages_and_tokens(ui):
    client, s = ui
    html = client.get(f"/experiments/{s.experiment_id}", params={"n": "25"}).text
    assert 'rel="next"' not in html
    first = client.get(f"/experiments/{s.experiment_id}", params={"n": "25", "page_token": "bad"})
    assert first.status_code == 400 and 'id="runs-error"' in first.text


def test_experiment_create_rename_delete_restore(ui):
    client, _ = ui
    r = client.post("/experiments/create", data={"name": "made-in-ui"})
    assert r.status_code == 303
    new_id = r.headers["location"].rsplit("/", 1)[1]
    dup = client.post("/experiments/create", data={"name": "made-in-ui"})
    assert dup.status_code == 400 and "already exists" in dup.text
    assert client.post(f"/experiments/{new_id}/rename", data={"name": "renamed"}).status_code == 303
    assert "renamed" in client.get("/").text
    assert client.post(f"/experiments/{new_id}/delete").status_code == 303
    assert "renamed" not in client.get("/").text and "renamed" in client.get("/?view=deleted").text
    assert client.post(f"/experiments/{new_id}/restore").status_code == 303
    bad = client.post("/experiments/0/delete")
    assert bad.status_code == 400 and "default experiment" in bad.text


def test_description_and_tags(ui):
    client, s = ui
    rid = s.runs["linear-b"]
    r = client.post(f"/runs/{rid}/description", data={"description": "new <note>"}, headers=HX)
    assert r.status_code == 200 and "new &lt;note&gt;" in r.text and "Saved" in r.text
    assert client.post(f"/runs/{rid}/tags", data={"key": "stage", "value": "dev"}).status_code == 303
    assert "stage" in client.get(f"/runs/{rid}").text
    bad = client.post(f"/runs/{rid}/tags", data={"key": "", "value": "x"}, headers=HX)
    assert bad.status_code == 200 and "A tag needs a key" in bad.text
    assert client.post(f"/runs/{rid}/tags/delete", data={"key": "stage"}, headers=HX).status_code == 200
    missing = client.post(f"/runs/{rid}/tags/delete", data={"key": "stage"})
    assert missing.status_code == 400 and "No tag" in missing.text


def test_artifact_previews(ui):
    client, s = ui
    a = s.runs["tree-a"]
    preview = f"/runs/{a}/artifacts/preview"
    assert "hello from the run notes" in client.get(preview, params={"path": "notes.txt"}).text
    assert "&#34;layers&#34;: [" in client.get(preview, params={"path": "config.json"}).text
    csv = client.get(preview, params={"path": "data/predictions.csv"}).text
    assert "<th scope=\"col\">score</th>" in csv and "<td>0.77</td>" in csv
    assert "<img" in client.get(preview, params={"path": "plots/curve.png"}).text
    assert 'sandbox="allow-scripts"' in client.get(preview, params={"path": "report.html"}).text
    model = client.get(preview, params={"path": "model"}).text
    assert "tenure" in model and "scikit-learn==1.5.0" in model
    raw = client.get(f"/runs/{a}/artifacts/raw", params={"path": "report.html"})
    assert raw.headers["content-security-policy"].startswith("sandbox")
    assert client.get(f"/runs/{a}/artifacts/raw", params={"path": "plots/curve.png"}).content.startswith(b"\x89PNG")
    assert client.get(f"/runs/{a}/artifacts/raw", params={"path": "../../etc/passwd"}).status_code == 400
    assert "predictions.csv" in client.get(f"/runs/{a}/artifacts/tree", params={"path": "data"}).text


def test_series_are_downsampled(ui):
    client, s = ui
    body = client.get("/ui/series", params={"key": "rmse", "run": [s.runs["tree-a"], s.runs["forest-c"]], "max": 10}).json()
    assert [len(r["steps"]) for r in body["runs"]] == [10, 10]
    assert body["runs"][0]["steps"][-1] == 49
    assert client.get("/ui/series", params={"key": "", "run": s.runs["tree-a"]}).status_code == 400


def test_alias_and_stage_forms(ui):
    client, s = ui
    base = f"/models/{quote(s.model)}/versions/2"
    assert client.post(f"{base}/alias", data={"alias": "champion"}).status_code == 303
    html = client.get(base).text
    assert "@champion" in html and "set registered model alias" in html
    bad = client.post(f"{base}/alias", data={"alias": "latest"})
    assert bad.status_code == 400 and 'id="alias-error"' in bad.text
    assert client.post(f"{base}/stage", data={"stage": "Staging"}).status_code == 303
    assert "Staging" in client.get(f"/models/{quote(s.model)}").text
    assert client.post(f"{base}/alias/delete", data={"alias": "champion"}).status_code == 303
    assert "churn-model" in client.get("/models", params={"q": "churn"}).text
    assert client.get("/models", params={"q": "name = "}).status_code == 400


def test_favicon_is_served(ui):
    client, _ = ui
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml") and icon.content.startswith(b"<svg")
    assert client.get("/static/favicon.svg").content == icon.content
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text


def test_run_page_links_children_and_run_ids_and_sets_system_tags_apart(ui, seeded_service):
    import json
    import re

    from modelyard.entities import RunTag

    client, s = ui
    svc, _ = seeded_service
    parent, child, other = s.runs["tree-a"], s.runs["tree-a-fold1"], s.runs["forest-c"]
    history = json.dumps([{"run_id": parent, "artifact_path": "model", "flavors": {"sklearn": {"v": "1.5.0"}},
                           "signature": {"inputs": "[" + ", ".join(['{"type": "double"}'] * 20) + "]"}}])
    svc.runs.set_tag(parent, RunTag("mlflow.log-model.history", history))
    svc.runs.set_tag(parent, RunTag("best_run_id", other))
    svc.runs.set_tag(parent, RunTag("not_a_run", "0123456789abcdef0123456789abcdef"))

    html = client.get(f"/runs/{parent}").text
    children = html[html.index('id="children"'):html.index('id="params"')]
    assert f'href="/runs/{child}"' in children and "tree-a-fold1" in children
    tags = html[html.index('<section id="tags"'):html.index('id="datasets"')]
    system = tags[tags.index('class="system-tags"'):]
    user = tags[:tags.index('class="system-tags"')]
    assert re.search(r'<details class="system-tags">\s*<summary>System tags', tags)  # collapsed: no "open"
    assert "mlflow.source.git.commit" in system and "mlflow.source.git.commit" not in user
    assert "best_run_id" in user and f'<a class="mono" href="/runs/{other}">{other}</a>' in user
    assert 'href="/runs/0123456789abcdef0123456789abcdef"' not in html  # a run-like id of no run stays text
    long_value = system[system.index("mlflow.log-model.history"):]
    assert long_value.index('<details class="long-value">') < long_value.index("&#34;artifact_path&#34;: &#34;model&#34;")
    assert "Remove tag mlflow." not in tags

    child_html = client.get(f"/runs/{child}").text
    assert 'id="children"' not in child_html
    child_tags = child_html[child_html.index('<section id="tags"'):]
    assert f'<a class="mono" href="/runs/{parent}">{parent}</a>' in child_tags  # mlflow.parentRunId
    assert "No tags of your own yet" in child_tags


def test_empty_states_say_what_to_do_next(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    empty = client.get(f"/experiments/{s.other_experiment_id}").text
    assert 'id="runs-empty"' in empty and 'my.set_experiment("scratch")' in empty and "my.start_run()" in empty
    no_match = client.get(f"/experiments/{s.experiment_id}", params={"q": "params.model = 'nothing'"}).text
    assert 'id="runs-empty"' in no_match and "clear it" in no_match and "my.start_run()" not in no_match
    assert 'id="runs-empty"' not in client.get(f"/experiments/{s.experiment_id}").text

    for url in ("/compare", "/compare?run="):
        compare = client.get(url)
        assert compare.status_code == 200 and 'role="alert"' not in compare.text
        assert 'id="compare-empty"' in compare.text and "Compare selected" in compare.text

    assert 'id="models-empty"' not in client.get("/models").text
    assert 'id="models-empty"' not in client.get("/models", params={"q": "nothing-like-this"}).text
    svc.registry.delete_registered_model(s.model)
    models = client.get("/models").text
    assert 'id="models-empty"' in models and "registered_model_name=" in models and "register_model(" in models


def test_histories_of_several_metrics_in_one_request_match_the_sampled_history(ui, seeded_service):
    """/ui/histories (the board's one request) gives each metric's points as MLflow's sampling picks
    them; a finished run's answer comes from the cache only while its latest point is unchanged."""
    from modelyard.entities import Metric
    from modelyard.server.ui.charts import HISTORY_CACHE

    client, s = ui
    svc, _ = seeded_service
    a, c, live = s.runs["tree-a"], s.runs["forest-c"], s.runs["live-run"]
    params = {"key": ["rmse", "accuracy", "loss"], "run": [a, c, live], "max": 10, "times": "0"}
    body = client.get("/ui/histories", params=params).json()["metrics"]
    assert set(body) == {"rmse", "accuracy", "loss"}
    expected = svc.runs.sampled_history_columns([a, c], "rmse", max_results=10)
    assert [(r["run_id"], r["steps"], r["values"]) for r in body["rmse"]] == [(h.run_id, h.steps, h.values) for h in expected]
    assert all("times" not in r for r in body["rmse"])
    assert [r["run_id"] for r in body["loss"]] == [live] and body["loss"][0]["values"] == [1.0]
    assert [len(r["steps"]) for r in body["accuracy"]] == [1, 1]
    with_times = client.get("/ui/histories", params={**params, "times": "1"}).json()["metrics"]
    assert with_times["rmse"][0]["times"] == expected[0].timestamps

    assert any(k[1] == a and k[2] == "rmse" for k in HISTORY_CACHE.entries)  # finished: cached
    assert not any(k[1] == live for k in HISTORY_CACHE.entries)  # running: never cached
    # A point logged later to a finished run is its new latest: the cached answer is not used.
    svc.runs.log_batch(a, metrics=[Metric("rmse", 7.5, 10**13, 99)])
    again = client.get("/ui/histories", params=params).json()["metrics"]["rmse"]
    assert again[0]["steps"][-1] == 99 and again[0]["values"][-1] == 7.5

    for bad, message in ((dict(params, key=[]), "Name a metric"), (dict(params, run=[]), "Name at least one run"),
                         (dict(params, max="many"), "max must be an integer"),
                         (dict(params, key=[f"k{i}" for i in range(51)]), "at most 50 metrics")):
        answer = client.get("/ui/histories", params=bad)
        assert answer.status_code == 400 and message in answer.json()["error"]
    assert client.get("/ui/histories", params=dict(params, run=["f" * 32])).status_code == 404

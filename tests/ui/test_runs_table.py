"""The runs table: compact rows, remembered columns, nested runs, delete and restore with an undo."""

from __future__ import annotations

import re

from modelyard.entities import LifecycleStage


def _names(html: str) -> list[str]:
    return re.findall(r'<td class="name">.*?<a href="/runs/[0-9a-f]+">([^<]*)</a>', html, re.S)


def test_rows_are_compact_and_tell_duplicates_apart(ui):
    client, s = ui
    html = client.get(f"/experiments/{s.experiment_id}").text
    a = s.runs["tree-a"]
    row = html[html.index(f'value="{a}"'):]
    row = row[:row.index("</tr>")]
    assert f'<span class="run-id mono" title="{a}">{a[:7]}</span>' in row
    when = re.search(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', row)
    assert when and len(when.group(3)) <= 12 and when.group(2).startswith(when.group(1)[:10])


def test_chosen_columns_are_remembered_per_experiment(ui):
    client, s = ui
    base = f"/experiments/{s.experiment_id}"
    first = client.get(base, params=[("col", "-"), ("col", "params:lr")])
    assert "modelyard_columns_" in first.headers["set-cookie"] and f"Path={base}" in first.headers["set-cookie"]
    header = first.text[first.text.index("<thead>"):first.text.index("</thead>")]
    assert ">lr<" in header and ">rmse<" not in header
    again = client.get(base).text  # no col in the URL: the remembered choice
    header = again[again.index("<thead>"):again.index("</thead>")]
    assert ">lr<" in header and ">rmse<" not in header
    other = client.get(f"/experiments/{s.other_experiment_id}")
    assert other.status_code == 200 and "modelyard_columns_" not in other.headers.get("set-cookie", "")
    reset = client.get(base, params={"col": "default"})
    assert 'Max-Age=0' in reset.headers["set-cookie"] or "expires" in reset.headers["set-cookie"].lower()
    header = reset.text[reset.text.index("<thead>"):reset.text.index("</thead>")]
    assert ">rmse<" in header
    client.cookies.clear()


def test_nested_runs_start_folded_under_their_parent(ui):
    client, s = ui
    html = client.get(f"/experiments/{s.experiment_id}", params={"group": "1"}).text
    parent, child = s.runs["tree-a"], s.runs["tree-a-fold1"]
    assert f'data-expand="{parent}"' in html and 'aria-expanded="false"' in html
    assert re.search(rf'<tr class="depth-1" data-parent="{parent}" hidden>\s*<td class="pick"><input[^>]*value="{child}"',
                     html)


def test_delete_then_undo_then_restore_from_the_deleted_view(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/experiments/{s.experiment_id}"
    a, b = s.runs["tree-a"], s.runs["linear-b"]
    answer = client.post(f"{base}/runs/delete", data={"run": [a, b], "next": f"{base}?q=attributes.status+%3D+%27FINISHED%27"})
    assert answer.status_code == 200
    assert svc.runs.get(a).info.lifecycle_stage == LifecycleStage.DELETED
    assert svc.runs.get(b).info.lifecycle_stage == LifecycleStage.DELETED
    html = answer.text
    assert "Deleted 2 runs: tree-a, linear-b." in html and 'id="undo-delete"' in html
    assert "tree-a" not in _names(html) and "forest-c" in _names(html)
    assert 'value="attributes.status = &#39;FINISHED&#39;"' in html  # the table comes back with its filter
    undo = html[html.index('id="runs-notice"'):html.index('id="undo-delete"')]
    assert f'name="run" value="{a}"' in undo and f'name="run" value="{b}"' in undo

    deleted = client.get(base, params={"show": "deleted"}).text
    assert sorted(_names(deleted)) == ["linear-b", "tree-a"] and "Restore selected" in deleted

    restored = client.post(f"{base}/runs/restore", data={"run": [a], "next": f"{base}?show=deleted"})
    assert restored.status_code == 200 and "Restored 1 run: tree-a." in restored.text
    assert _names(restored.text) == ["linear-b"]  # still the deleted view
    client.post(f"{base}/runs/restore", data={"run": [b]})
    assert svc.runs.get(a).info.lifecycle_stage == svc.runs.get(b).info.lifecycle_stage == LifecycleStage.ACTIVE


def test_bad_lifecycle_requests_are_clear_and_change_nothing(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/experiments/{s.experiment_id}"
    none = client.post(f"{base}/runs/delete", data={})
    assert none.status_code == 400 and "No run selected" in none.text
    stranger = client.post(f"/experiments/{s.other_experiment_id}/runs/delete", data={"run": [s.runs["tree-a"]]})
    assert stranger.status_code == 400 and "is not in experiment" in stranger.text
    missing = client.post(f"{base}/runs/delete", data={"run": [s.runs["forest-c"], "f" * 32]})
    assert missing.status_code == 400 and "f" * 32 in missing.text
    assert svc.runs.get(s.runs["forest-c"]).info.lifecycle_stage == LifecycleStage.ACTIVE
    assert svc.runs.get(s.runs["tree-a"]).info.lifecycle_stage == LifecycleStage.ACTIVE
    del client.headers["x-csrf-token"]
    try:
        assert client.post(f"{base}/runs/delete", data={"run": [s.runs["forest-c"]]}).status_code == 403
    finally:
        from .conftest import with_csrf_token
        with_csrf_token(client)
    assert svc.runs.get(s.runs["forest-c"]).info.lifecycle_stage == LifecycleStage.ACTIVE


def test_a_filter_naming_an_unknown_metric_or_param_says_so(ui):
    client, s = ui
    base = f"/experiments/{s.experiment_id}"
    html = client.get(base, params={"q": "metrics.acuracy > 0.5 and params.lr = '0.1'"}).text
    assert "No run in these experiments has a metric named &#39;acuracy&#39;. Did you mean metrics.accuracy?" in html
    assert "named &#39;lr&#39;" not in html
    html = client.get(base, params={"q": "params.modle = 'tree'"}).text
    assert "has a param named &#39;modle&#39;. Did you mean params.model?" in html
    known = client.get(base, params={"q": "params.model = 'nothing'"}).text
    assert 'id="runs-hint"' not in known and "clear it" in known


def test_delete_restore_and_registry_edits_on_both_databases(db_uri, tmp_path):
    """The UI's writes on SQLite and PostgreSQL: a bulk delete is all or nothing, undo restores."""
    from starlette.testclient import TestClient

    from modelyard.server import create_app
    from modelyard.service import TrackingService

    from .conftest import with_csrf_token
    from .seed import seed, settings_for

    svc = TrackingService(settings_for(db_uri, str(tmp_path / "artifacts")))
    try:
        s = seed(svc)
        with TestClient(create_app(service=svc), follow_redirects=False) as client:
            with_csrf_token(client)
            base = f"/experiments/{s.experiment_id}"
            a, b = s.runs["tree-a"], s.runs["linear-b"]
            partly = client.post(f"{base}/runs/delete", data={"run": [a, s.runs["xss"], "e" * 32]})
            assert partly.status_code == 400
            assert svc.runs.get(a).info.lifecycle_stage == LifecycleStage.ACTIVE
            deleted = client.post(f"{base}/runs/delete", data={"run": [a, b]})
            assert "Deleted 2 runs" in deleted.text
            assert {svc.runs.get(r).info.lifecycle_stage for r in (a, b)} == {LifecycleStage.DELETED}
            assert "Restored 2 runs" in client.post(f"{base}/runs/restore", data={"run": [a, b]}).text
            assert {svc.runs.get(r).info.lifecycle_stage for r in (a, b)} == {LifecycleStage.ACTIVE}
            assert client.post(f"/models/{s.model}/description", data={"description": "*new*"}).status_code == 303
            assert client.post(f"/models/{s.model}/versions/1/tags", data={"key": "k", "value": "v"}).status_code == 303
            assert svc.registry.get_registered_model(s.model).description == "*new*"
            assert svc.registry.get_model_version(s.model, 1).tags == {"k": "v"}
    finally:
        svc.close()


def _groups(html: str) -> list[tuple[str, str, str]]:
    """(key, value, count) of each group header of the table, in order."""
    return re.findall(r'<span class="group-key">([^<]*)</span> = <strong class="group-value">([^<]*)</strong>\s*'
                      r'<span class="count"[^>]*>(\d+) runs?</span>', html)


def test_runs_group_by_a_param_with_counts_and_the_choice_is_remembered(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    from modelyard.entities import Param
    svc.runs.log_param(s.runs["live-run"], Param("model", "tree"))
    base = f"/experiments/{s.experiment_id}"
    first = client.get(base, params={"groupby": "params:model"})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert f"modelyard_group_{s.experiment_id}=params:model" in cookie and f"Path={base}" in cookie
    groups = _groups(first.text)
    assert sorted(g[1] for g in groups) == ["(none)", "forest", "linear", "tree"]
    assert dict((g[1], g[2]) for g in groups)["tree"] == "2"
    # a group's rows come together, right under its header
    body = first.text[first.text.index("<tbody>"):]
    tree_at = body.index('<strong class="group-value">tree</strong>')
    following = body[tree_at:]
    nxt = following.find('class="group-head"', 10)
    block = following[:nxt if nxt > 0 else None]
    assert s.runs["tree-a"] in block and s.runs["live-run"] in block and s.runs["linear-b"] not in block
    assert '<option value="params:model" selected>model</option>' in first.text
    again = client.get(base).text  # no groupby in the URL: the remembered one
    assert _groups(again) == groups
    other = client.get(f"/experiments/{s.other_experiment_id}").text
    assert not _groups(other)
    by_tag = client.get(base, params={"groupby": "tags:team"}).text
    assert ("team", "growth", "3") in _groups(by_tag)
    off = client.get(base, params={"groupby": "-"})
    assert "Max-Age=0" in off.headers["set-cookie"] and not _groups(off.text)
    assert not _groups(client.get(base, params={"groupby": "metrics:rmse"}).text)  # only params and tags group
    client.cookies.clear()


def test_tag_the_selection_then_remove_the_tag(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/experiments/{s.experiment_id}"
    a, b, c = s.runs["tree-a"], s.runs["linear-b"], s.runs["forest-c"]
    added = client.post(f"{base}/runs/tag", data={"run": [a, b], "key": "stage", "value": "candidate", "mode": "add",
                                                  "next": f"{base}?q=attributes.status+%3D+%27FINISHED%27"})
    assert added.status_code == 200
    assert "Tagged 2 runs with <code>stage=candidate</code>: tree-a, linear-b." in added.text
    assert 'value="attributes.status = &#39;FINISHED&#39;"' in added.text  # the table comes back as it was
    assert svc.runs.get(a).data.tags["stage"] == svc.runs.get(b).data.tags["stage"] == "candidate"
    assert "stage" not in svc.runs.get(c).data.tags
    removed = client.post(f"{base}/runs/tag", data={"run": [a, c], "key": "stage", "mode": "remove"})
    assert removed.status_code == 200 and "Removed tag <code>stage</code> from 1 run: tree-a." in removed.text
    assert "stage" not in svc.runs.get(a).data.tags and svc.runs.get(b).data.tags["stage"] == "candidate"


def test_bad_bulk_tag_requests_are_clear_and_change_nothing(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/experiments/{s.experiment_id}"
    a = s.runs["tree-a"]
    nokey = client.post(f"{base}/runs/tag", data={"run": [a], "key": " ", "value": "x", "mode": "add"})
    assert nokey.status_code == 400 and "Name the tag: fill in Key" in nokey.text
    nothing = client.post(f"{base}/runs/tag", data={"key": "k", "value": "x", "mode": "add"})
    assert nothing.status_code == 400 and "No run selected" in nothing.text
    mode = client.post(f"{base}/runs/tag", data={"run": [a], "key": "k", "mode": "toggle"})
    assert mode.status_code == 400 and "mode must be &#39;add&#39; or &#39;remove&#39;" in mode.text
    stranger = client.post(f"/experiments/{s.other_experiment_id}/runs/tag", data={"run": [a], "key": "k", "mode": "add"})
    assert stranger.status_code == 400 and "is not in experiment" in stranger.text
    partly = client.post(f"{base}/runs/tag", data={"run": [a, "d" * 32], "key": "k", "value": "v", "mode": "add"})
    assert partly.status_code == 400 and "d" * 32 in partly.text
    assert "k" not in svc.runs.get(a).data.tags
    del client.headers["x-csrf-token"]
    try:
        assert client.post(f"{base}/runs/tag", data={"run": [a], "key": "k", "value": "v"}).status_code == 403
    finally:
        from .conftest import with_csrf_token
        with_csrf_token(client)
    assert "k" not in svc.runs.get(a).data.tags

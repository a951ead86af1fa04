"""Registry pages: Markdown descriptions and tags edited on models and versions, the versions table,
two versions compared."""

from __future__ import annotations

from modelyard.server.ui.markdown import render_markdown


def test_markdown_is_formatted_and_never_lets_html_or_scripts_through():
    html = render_markdown("# Churn\nSee **this** and *that*, `a<b>` and [docs](https://example.org/?a=1&b=2).\n\n"
                           "- one\n- two\n\n1. first\n\n<script>alert(1)</script> [x](javascript:alert(1))\n"
                           "```\n<b>raw</b>\n```")
    assert "<h3>Churn</h3>" in html and "<strong>this</strong>" in html and "<em>that</em>" in html
    assert "<code>a&lt;b&gt;</code>" in html
    assert '<a href="https://example.org/?a=1&amp;b=2" rel="nofollow noopener">docs</a>' in html
    assert "<ul><li>one</li><li>two</li></ul>" in html and "<ol><li>first</li></ol>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
    assert "<pre><code>&lt;b&gt;raw&lt;/b&gt;</code></pre>" in html
    assert render_markdown('[q](https://x.org/"onmouseover=alert(1))').count('"') == 4  # the quote stays inside href
    assert str(render_markdown(None)) == ""


def test_edit_model_description_and_tags(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/models/{s.model}"
    saved = client.post(f"{base}/description", data={"description": "Predicts **churn**.\n\n<img src=x onerror=alert(1)>"})
    assert saved.status_code == 303 and saved.headers["location"] == base
    assert svc.registry.get_registered_model(s.model).description.startswith("Predicts **churn**.")
    page = client.get(base).text
    assert "Predicts <strong>churn</strong>." in page and "<img" not in page and "&lt;img src=x" in page
    assert client.post(f"{base}/tags", data={"key": "owner", "value": "ana"}).status_code == 303
    assert svc.registry.get_registered_model(s.model).tags["owner"] == "ana"
    assert client.post(f"{base}/tags/delete", data={"key": "team"}).status_code == 303
    assert "team" not in svc.registry.get_registered_model(s.model).tags
    no_key = client.post(f"{base}/tags", data={"key": " ", "value": "x"})
    assert no_key.status_code == 400 and "A tag needs a key" in no_key.text and 'id="edit-error"' in no_key.text
    assert client.post("/models/no-such-model/description", data={"description": "x"}).status_code == 404


def test_edit_version_description_and_tags(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    base = f"/models/{s.model}/versions/2"
    assert client.post(f"{base}/description", data={"description": "Trained on *May* data."}).status_code == 303
    assert client.post(f"{base}/tags", data={"key": "validated", "value": "yes"}).status_code == 303
    mv = svc.registry.get_model_version(s.model, 2)
    assert mv.description == "Trained on *May* data." and mv.tags == {"validated": "yes"}
    page = client.get(base).text
    assert "Trained on <em>May</em> data." in page and "validated" in page
    assert client.post(f"{base}/tags/delete", data={"key": "validated"}).status_code == 303
    assert svc.registry.get_model_version(s.model, 2).tags == {}
    too_long = client.post(f"{base}/tags", data={"key": "k" * 300, "value": "v"})
    assert too_long.status_code == 400 and "Setting the tag failed" in too_long.text


def test_versions_table_shows_tags_creator_and_aliases(ui, seeded_service):
    client, s = ui
    svc, _ = seeded_service
    svc.registry.set_model_version_tag(s.model, 1, "stage", "prod")
    html = client.get(f"/models/{s.model}").text
    table = html[html.index('<table class="grid versions">'):html.index("</table>", html.index('<table class="grid versions">'))]
    assert "Created by" in table and "Tags" in table and "stage=prod" in table and "@champion" in table
    assert 'name="version" value="1"' in table and 'name="version" value="2"' in table


def test_compare_two_versions(ui):
    client, s = ui
    html = client.get(f"/models/{s.model}/compare", params=[("version", "1"), ("version", "2")]).text
    table = html[html.index('<table class="grid compare-versions">'):]
    assert "tree-a" in table and "forest-c" in table
    rmse = table[table.index(">rmse<") - 40:table.index(">rmse<") + 200]
    assert 'class="differs"' in rmse
    assert ">model<" in table and ">tree<" in table and ">forest<" in table
    one = client.get(f"/models/{s.model}/compare", params={"version": "1"})
    assert one.status_code == 200 and 'id="versions-compare-empty"' in one.text and "you picked 1" in one.text
    assert client.get(f"/models/{s.model}/compare", params=[("version", "1"), ("version", "9")]).status_code == 404

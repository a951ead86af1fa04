"""``GET /``: a try-it page generated from the model signature, its input example prefilled."""

from __future__ import annotations

import html
import json
from typing import Any

from .model import LoadedModel
from .openapi import _example

_INPUT = {"double": "number", "float": "number", "long": "number", "integer": "number"}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:15px system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}}
form{{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.6rem 1rem}}
label{{display:flex;flex-direction:column;font-size:.85rem}} input,textarea{{font:inherit;padding:.25rem}}
textarea{{width:100%;min-height:10rem}} button{{margin:1rem 0;padding:.4rem 1.2rem;font:inherit}}
pre{{background:#f4f4f4;padding:1rem;overflow:auto}} .meta{{color:#666}}
</style></head><body>
<h1>{title}</h1>
<p class="meta">version <b id="version">{version}</b> · {flavors} · <a href="/openapi.json">OpenAPI</a> ·
<a href="/metrics">metrics</a></p>
{body}
<button id="send" type="button">Predict</button>
<p class="meta">answered by version <b id="answered">–</b> in <span id="ms">–</span> ms</p>
<pre id="out"></pre>
<script>
const columns = {columns};
function payload() {{
  if (!columns.length) return document.getElementById("raw").value;
  const record = {{}};
  for (const [name, kind] of columns) {{
    const el = document.getElementById("c-" + name);
    if (kind === "boolean") record[name] = el.checked;
    else if (el.type === "number") record[name] = el.value === "" ? null : Number(el.value);
    else record[name] = el.value;
  }}
  return JSON.stringify({{dataframe_records: [record]}});
}}
document.getElementById("send").onclick = async () => {{
  const t0 = performance.now();
  const resp = await fetch("/invocations", {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: payload()}});
  document.getElementById("ms").textContent = (performance.now() - t0).toFixed(1);
  document.getElementById("answered").textContent = resp.headers.get("x-model-version") || "–";
  document.getElementById("out").textContent = JSON.stringify(await resp.json(), null, 2);
}};
</script></body></html>
"""


def render_page(model: LoadedModel) -> str:
    columns = model.reader.columns()
    example = _example(model)
    first = _first_row(example, [c for c, _ in columns])
    if columns:
        fields = []
        for name, kind in columns:
            value = first.get(name)
            ident = html.escape("c-" + name, quote=True)
            if kind == "boolean":
                checked = " checked" if value else ""
                field = f'<input id="{ident}" type="checkbox"{checked}>'
            else:
                shown = "" if value is None else html.escape(str(value), quote=True)
                step = ' step="any"' if _INPUT.get(kind) == "number" else ""
                field = f'<input id="{ident}" type="{_INPUT.get(kind, "text")}"{step} value="{shown}">'
            fields.append(f"<label>{html.escape(name)} <small>({kind})</small>{field}</label>")
        body = "<form>" + "".join(fields) + "</form>"
    else:
        text = json.dumps(example) if example is not None else '{"inputs": []}'
        body = f'<p>Request body (JSON):</p><textarea id="raw">{html.escape(text)}</textarea>'
    return _TEMPLATE.format(
        title=html.escape(f"{model.name} · try it"),
        version=html.escape(model.version),
        flavors=html.escape(", ".join(sorted(model.pyfunc.flavors))),
        body=body,
        columns=json.dumps(columns).replace("</", "<\\/"),
    )


def _first_row(example: Any, names: list[str]) -> dict[str, Any]:
    if not isinstance(example, dict):
        return {}
    if "dataframe_split" in example:
        split = example["dataframe_split"]
        rows = split.get("data") or []
        return dict(zip(split.get("columns") or names, rows[0])) if rows else {}
    inputs = example.get("inputs")
    if isinstance(inputs, dict) and "columns" in inputs:
        rows = inputs.get("data") or []
        return dict(zip(inputs["columns"], rows[0])) if rows else {}
    return {}

"""MkDocs hook: the reference pages, generated from the code at build time.

- ``reference/settings.md`` from :class:`modelyard.settings.Settings` (every field: variable, type, default, help);
- ``reference/cli.md`` from the click commands under ``modelyard.cli.main`` (each command's ``--help``);
- ``reference/rest.md`` from the table of operations (``modelyard/api/``), then the routes that are
  not operations (``modelyard/server/routes/``, mounted as :func:`modelyard.server.app.build_routes` mounts them).

``tests/docs`` builds the site and checks that these pages name every setting, command and route.
"""

from __future__ import annotations

from typing import Any

import click

GENERATED = ("reference/settings.md", "reference/cli.md", "reference/rest.md")


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def settings_page() -> str:
    from modelyard.settings import Settings

    lines = [
        "# Settings",
        "",
        "Generated from `modelyard/settings.py`. Every setting is read from its environment variable"
        " (prefix `MODELYARD_`); the server's flags of the same name win over the environment.",
        "Booleans take `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).",
        "",
        "| Environment variable | Type | Default | What it does |",
        "| --- | --- | --- | --- |",
    ]
    for env, kind, default, help_text in Settings.describe():
        shown = f"`{default!r}`" if default != "" else "(empty)"
        lines.append(f"| `{env}` | {kind} | {_cell(shown)} | {_cell(help_text)} |")
    return "\n".join(lines) + "\n"


def _commands(group: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    out = [(path, group)]
    if isinstance(group, click.Group):
        for name in sorted(group.commands):
            out += _commands(group.commands[name], (*path, name))
    return out


def cli_page() -> str:
    from modelyard.cli import main

    lines = [
        "# Command line",
        "",
        "Generated from the `modelyard` click commands: each command's `--help`.",
        "",
    ]
    for path, command in _commands(main, ("modelyard",)):
        name = " ".join(path)
        with click.Context(command, info_name=name, terminal_width=100, max_content_width=100) as ctx:
            text = command.get_help(ctx)
        lines += [f"## {name}", "", "```text", text, "```", ""]
    return "\n".join(lines)


def routes_by_module() -> dict[str, list[tuple[str, str]]]:
    """Route module name → sorted (path, methods) pairs, mounted as ``build_routes`` mounts them."""
    from modelyard.server.app import _TABLES, _mount, route_modules

    out: dict[str, list[tuple[str, str]]] = {}
    for module in route_modules():
        found: set[tuple[str, str]] = set()
        for attr, prefixes in _TABLES:
            for route in _mount(prefixes, getattr(module, attr, [])):
                methods = sorted(m for m in (route.methods or ()) if m != "HEAD") or ["HEAD"]
                found.add((route.path, ", ".join(methods)))
        if found:
            name = module.__name__
            out[name.rsplit(".", 1)[1] if ".routes." in name else name.removeprefix("modelyard.")] = sorted(found)
    return out


def operations_section() -> list[str]:
    """One table per area of the table of operations."""
    from modelyard.api.operations import Table, all_operations

    all_operations()
    lines: list[str] = []
    for table in Table.areas:
        if not table.ops:
            continue
        lines += [f"### {table.area.replace('_', ' ')}", "",
                  "| Operation | Method | Path | Also under | Permission | Retried | What it does |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for op in table:
            perm = op.permission
            on = perm.resource + (f" (`{perm.field}`)" if perm.field else "")
            paths = op.paths
            shown = [p for p in paths if not (p.startswith("/ajax-api/") and "/api/" + p[len("/ajax-api/"):] in paths)]
            for i, path in enumerate(shown):
                twin = "/ajax-api/" + path[len("/api/"):] if path.startswith("/api/") else ""
                also = f"`{twin}`" if twin in paths else ""
                name = f"`{op.name}`" if i == 0 else f"`{op.name}` (also)"
                lines.append(
                    f"| {name} | {', '.join(op.methods)} | `{path}` | {also} | {perm.level} on {_cell(on)}"
                    f" | {'yes' if op.idempotent else 'if never sent'} | {_cell(op.summary)} |")
        lines.append("")
    return lines


def rest_page() -> str:
    lines = [
        "# REST API",
        "",
        "Generated from the table of operations (`modelyard/api/`), then the routes that are not operations",
        "(`modelyard/server/routes/`). MLflow's routes are served under `/api/2.0/mlflow` and, for MLflow's",
        "web UI, its `/ajax-api` twin; our extensions under `/api/2.0/modelyard`. Requests and answers follow"
        " [MLflow's REST API](https://mlflow.org/docs/latest/rest-api.html) where MLflow has the route.",
        "Every answer is JSON; an error is `{\"error_code\": ..., \"message\": ...}` with its HTTP status.",
        "",
        "## Operations",
        "",
        "*Permission* is what a caller needs when the server runs with authentication, on the resource the",
        "named request field points at. *Retried*: the SDK asks again after a lost answer (`yes`), or only",
        "when the request was never sent or the server refused it undone (429, 503).",
        "",
        *operations_section(),
        "## Other routes",
        "",
    ]
    for module, routes in routes_by_module().items():
        lines += [f"### {module}", "", "| Method | Path |", "| --- | --- |"]
        lines += [f"| {methods} | `{path}` |" for path, methods in routes]
        lines.append("")
    return "\n".join(lines)


PAGES = {"reference/settings.md": settings_page, "reference/cli.md": cli_page, "reference/rest.md": rest_page}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, make in PAGES.items():
        files.append(File.generated(config, uri, content=make()))
    return files

"""The documentation site builds with warnings as errors, and documents every setting, command and route."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from modelyard.cli import main
from modelyard.server.app import build_routes
from modelyard.settings import Settings

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    return out


def page_text(site: Path, name: str) -> str:
    """The built page's text, tags removed and entities decoded."""
    raw = (site / name / "index.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_site_builds_strict_with_every_page(site: Path) -> None:
    for name in ("getting-started", "concepts", "tracking", "registry", "models", "serving", "pipelines",
                 "webhooks-lineage", "tracing", "ui", "mlflow-migration", "security", "deployment",
                 "reference/settings", "reference/cli", "reference/rest"):
        assert (site / name / "index.html").is_file(), name


def test_every_setting_is_documented(site: Path) -> None:
    text = page_text(site, "reference/settings")
    for env, kind, default, help_text in Settings.describe():
        row = re.search(rf"^{re.escape(env)}\s*\n\s*{re.escape(kind)}\s*\n(.*)\n(.*)$", text, re.M)
        assert row, f"{env} ({kind}) is missing from the settings page"
        assert help_text.split(".")[0].replace("`", "").strip() in row.group(2), env  # help renders as Markdown
        assert (repr(default) if default != "" else "(empty)") in row.group(1), env


def walk(command: click.Command, path: str) -> list[str]:
    out = [path]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            out += walk(sub, f"{path} {name}")
    return out


def test_every_command_is_documented(site: Path) -> None:
    raw = (site / "reference" / "cli" / "index.html").read_text()
    commands = walk(main, "modelyard")
    assert len(commands) > 20 and "modelyard pipelines schedule create" in commands
    sections = dict(re.findall(r'<h2 id="[^"]*">(modelyard[\w -]*?)<a class="headerlink".*?</h2>(.*?)(?=<h2 |$)', raw, re.S))
    missing = [c for c in commands if c not in sections]
    assert not missing, f"undocumented commands: {missing}"
    for name, option in (("serve", "--export"), ("server", "--backend-store-uri"), ("pipelines backfill", "--start")):
        assert option in html.unescape(sections[f"modelyard {name}"]), option


def test_every_route_is_documented(site: Path) -> None:
    raw = (site / "reference" / "rest" / "index.html").read_text()
    cells = {html.unescape(c) for c in re.findall(r"<td><code>([^<]*)</code></td>", raw)}
    paths = {route.path for route in build_routes()}
    assert "/api/2.0/mlflow/runs/create" in paths and len(paths) > 100
    missing = sorted(paths - cells)
    assert not missing, f"undocumented routes: {missing}"

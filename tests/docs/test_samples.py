"""Every python and bash sample of README.md and docs/ runs as written (see ``samples.py`` for the markers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from .samples import PageRun, parse

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_samples_run(page: Path, tmp_path: Path) -> None:
    run = PageRun(tmp_path)
    try:
        for sample in parse(page):
            run.run(sample)
    finally:
        run.close()


def test_the_pages_have_samples() -> None:
    """The parser finds the samples (a broken parser would pass every page above)."""
    readme = parse(ROOT / "README.md")
    assert {s.language for s in readme} == {"python", "bash"}
    assert any(s.marker == "server" for s in readme)
    assert sum(len(parse(page)) for page in PAGES) >= 20


def test_skips_only_on_the_deployment_page() -> None:
    for page in PAGES:
        for sample in parse(page):
            if sample.marker == "skip":
                assert page.name == "deployment.md" and sample.argument, sample.where


def test_quickstart_install_carries_what_the_readme_uses() -> None:
    """``pip install -e ".[quickstart]"`` (the README's install) brings scikit-learn and skops for log_model."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].split("[")[0].strip() for req in extras["quickstart"]}
    assert {"scikit-learn", "skops", "matplotlib"} <= names

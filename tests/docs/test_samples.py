"""Every python and bash sample of README.md and docs/ runs as written (see ``samples.py`` for the markers)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomllib

from .samples import PageRun, parse

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def run_page(page: Path, folder: Path) -> str | None:
    """Run every sample of ``page`` in ``folder``; None, or why it failed."""
    run = PageRun(folder)
    try:
        for sample in parse(page):
            run.run(sample)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        run.close()
    return None


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str | None]:
    """Run the selected pages two at a time (each in its own folder, with its own ports): the samples are
    mostly process start-up, and CI has two cores."""
    selected = [item.callspec.params["page"] for item in request.session.items
                if getattr(item, "function", None) is test_page_samples_run]
    folders = {page: tmp_path_factory.mktemp(page.stem) for page in selected}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(selected, pool.map(lambda page: run_page(page, folders[page]), selected)))


# The first page's setup runs every page (``outcomes``): minutes of process start-ups, more while the other
# test worker is busy too, so more than the suite's 300 s per test.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_samples_run(page: Path, outcomes: dict[Path, str | None]) -> None:
    assert outcomes[page] is None, outcomes[page]


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


def test_a_failing_sample_fails_its_page(tmp_path: Path) -> None:
    """Blocks of a page share one namespace, and a failing python or bash block is reported with its line."""
    page = tmp_path / "deployment.md"
    page.write_text("```python\nx = 1\n```\n\n<!-- test: skip not here -->\n```python\nx = 5\n```\n\n"
                    "```python\nassert x == 2, f'x is {x}'\n```\n")
    (tmp_path / "run").mkdir()
    outcome = run_page(page, tmp_path / "run")
    assert outcome is not None and "deployment.md:10" in outcome and "x is 1" in outcome
    page.write_text("text\n\n```bash\necho fine\nfalse\necho never\n```\n")
    outcome = run_page(page, tmp_path / "run")
    assert outcome is not None and "deployment.md:3 failed (1)" in outcome and "never" not in outcome.split("\n", 4)[-1]


def test_markers_attach_to_the_next_fence_only(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- test: server -->\n\n```bash\nmodelyard ui --port 5000 &\n```\n\n"
                    "<!-- test: script flows.py -->\nprose\n```python\npass\n```\n\n```json\n{}\n```\n")
    found = parse(page)
    assert [(s.language, s.marker, s.line) for s in found] == [("bash", "server", 3), ("python", "", 9)]


def test_tested_by_names_a_test_that_runs_the_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- test: tested-by tests/docs/test_site.py -->\n```bash\nmodelyard build site\n```\n")
    assert run_page(page, tmp_path) is None  # test_site.py builds the site
    page.write_text("<!-- test: tested-by tests/docs/test_site.py -->\n```bash\nmodelyard frobnicate widgets\n```\n")
    assert "does not run" in (run_page(page, tmp_path) or "")
    page.write_text("<!-- test: tested-by tests/nowhere.py -->\n```bash\nmodelyard import mlflow x\n```\n")
    assert "no test" in (run_page(page, tmp_path) or "")

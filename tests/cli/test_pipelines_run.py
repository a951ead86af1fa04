"""``modelyard pipelines run``: prints the pipeline's result; a failed step shows its traceback (file and line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

FLOW = '''\
import sys

from modelyard.pipelines import pipeline, step


@step
def total(a: int, b: int) -> dict:
    return {"sum": a + b, "inputs": [a, b]}


@step
def explode(n: int) -> int:
    raise ValueError(f"cannot take {n}")


@step
def noisy(n: int) -> int:
    print("reading", n, "rows")
    print("row 2 looks odd", file=sys.stderr)
    return int("x")


@pipeline
def summing(a: int = 1, b: int = 2):
    return total(a, b)


@pipeline
def broken(n: int = 3):
    return explode(n)


@pipeline
def chatty(n: int = 3):
    return noisy(n)
'''


@pytest.fixture
def flow(folder: Path) -> Path:
    path = folder / "flow.py"
    path.write_text(FLOW)
    return path


def test_the_result_is_printed(cli, flow: Path) -> None:
    result = cli("pipelines", "run", f"{flow}:summing", "-p", "a=3", "--executor", "inline")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == 'result: {"sum": 5, "inputs": [3, 2]}'
    assert lines[-1].startswith("FINISHED ")  # the status line stays last
    as_json = json.loads(cli("pipelines", "run", f"{flow}:summing", "--json", "--executor", "inline").stdout)
    assert as_json["result"] == {"sum": 3, "inputs": [1, 2]} and as_json["status"] == "FINISHED"


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_failed_step_shows_its_traceback(cli, flow: Path, executor: str) -> None:
    result = cli("pipelines", "run", f"{flow}:broken", "--executor", executor)
    _ends_in_one_error_line(result, "modelyard pipelines resume")
    assert "step 'explode' failed:" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert f'File "{flow}", line 13, in explode' in result.stderr
    assert "ValueError: cannot take 3" in result.stderr
    assert '    raise ValueError(f"cannot take {n}")' in result.stderr  # the source line, from a worker too
    assert "pipelines/task.py" not in result.stderr  # the engine's own call of the step is left out


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_failed_step_shows_what_it_printed(cli, flow: Path, executor: str) -> None:
    result = cli("pipelines", "run", f"{flow}:chatty", "--executor", executor, "--quiet")
    _ends_in_one_error_line(result, "modelyard pipelines resume")
    tail = result.stderr[result.stderr.index("step 'noisy' failed:"):]
    assert "step 'noisy' stdout:\nreading 3 rows" in tail and "step 'noisy' stderr:\nrow 2 looks odd" in tail


def test_quiet_still_shows_the_traceback(cli, flow: Path) -> None:
    result = cli("pipelines", "run", f"{flow}:broken", "--executor", "inline", "--quiet")
    _ends_in_one_error_line(result, "modelyard pipelines resume")
    assert f'File "{flow}", line 13, in explode' in result.stderr


def _ends_in_one_error_line(result: Result, fragment: str) -> None:
    """Exit 1, the step's traceback printed (not the CLI's own), then one ``Error:`` line."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Pipeline ") and fragment in last, last
    assert "modelyard/cli/" not in result.stderr  # the step's frames, not the command's

"""``modelyard promote`` and ``modelyard promotion ...`` on an embedded store: verdicts, exit codes, requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import modelyard as my
from modelyard.cli import main


@pytest.fixture
def store(tmp_path: Path):
    uri = str(tmp_path / "store")
    c = my.Client(uri)
    c.create_registered_model("bikes")
    for _ in range(2):
        c.create_model_version("bikes", "s3://bucket/bikes")
    yield uri
    c.close()


def test_promote_prints_each_verdict_and_exits_1_when_a_gate_fails(store: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("gates:\n  - check: required_tags\n    tags: [team]\n  - check: approval\n")
    r = CliRunner()
    done = r.invoke(main, ["promotion", "set-policy", "bikes", "champion", str(policy), "--tracking-uri", store])
    assert done.exit_code == 0 and "bikes@champion: 2 gates." in done.output, done.output
    failed = r.invoke(main, ["promote", "bikes", "--version", "1", "--to", "champion", "--tracking-uri", store])
    assert failed.exit_code == 1
    assert "FAIL  required_tags: missing tags: team" in failed.output
    assert "would pass: set team on version 1" in failed.output
    assert "Not promoted: required_tags, approval failed (promotion 1)." in failed.output

    asked = r.invoke(main, ["promotion", "request", "bikes", "--version", "1", "--to", "champion",
                            "--tracking-uri", store])
    assert asked.exit_code == 0 and "Request 1: bikes version 1 to @champion (open)." in asked.output
    queue = r.invoke(main, ["promotion", "requests", "--status", "open", "--tracking-uri", store])
    assert "open" in queue.output and "bikes" in queue.output
    approved = r.invoke(main, ["promotion", "approve", "bikes", "1", "--tracking-uri", store])
    assert approved.exit_code == 0 and "Request 1: approved." in approved.output
    my.Client(store).set_model_version_tag("bikes", "1", "team", "mobility")
    dry = r.invoke(main, ["promote", "bikes", "--version", "1", "--dry-run", "--tracking-uri", store])
    assert dry.exit_code == 0 and "Dry run: every gate passes." in dry.output
    done = r.invoke(main, ["promote", "bikes", "--version", "1", "--to", "champion", "--tracking-uri", store])
    assert done.exit_code == 0 and "Promoted bikes version 1 to @champion (promotion 2)." in done.output
    history = r.invoke(main, ["promotion", "history", "bikes", "--tracking-uri", store])
    assert history.output.splitlines()[2].split()[:4] == ["2", "1", "champion", "passed"]
    missing = r.invoke(main, ["promote", "bikes", "--version", "2", "--to", "staging", "--tracking-uri", store])
    assert missing.exit_code == 1 and "no promotion policy for alias 'staging'" in missing.output

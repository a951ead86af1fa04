"""A step that overruns its timeout is stopped with everything it started."""

from __future__ import annotations


def test_a_timed_out_step_takes_its_child_processes_with_it(tmp_path):
    """The process executor kills the step's whole process group, not only the worker."""
    import textwrap

    from modelyard.pipelines import load_pipeline

    flow = tmp_path / "sleepy.py"
    marker = tmp_path / "child.pid"
    flow.write_text(textwrap.dedent(f"""
        import subprocess, time
        import modelyard as my

        @my.step(timeout=2, retries=0, cache=False)
        def sleepy() -> int:
            child = subprocess.Popen(["sleep", "60"])
            open({str(marker)!r}, "w").write(str(child.pid))
            time.sleep(60)
            return 1

        @my.pipeline
        def nap() -> int:
            return sleepy()
    """))
    pipe = load_pipeline(f"{flow}:nap")
    outcome = pipe.run({}, executor="process", tracking_uri=str(tmp_path / "store"), raise_on_failure=False)
    assert outcome.status == "FAILED"
    import os
    import time

    pid = int(marker.read_text())
    for _ in range(50):  # bounded: up to 5 s for the kill to land
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the step's child process {pid} survived the timeout")


def test_only_a_failed_run_can_be_resumed(tmp_path):
    import pytest

    from modelyard.pipelines import load_pipeline, resume
    from modelyard.pipelines.errors import StepFailed

    flow = tmp_path / "ok.py"
    flow.write_text(
        "import modelyard as my\n\n@my.step\ndef one() -> int:\n    return 1\n\n"
        "@my.pipeline\ndef fine() -> int:\n    return one()\n"
    )
    uri = str(tmp_path / "store")
    finished = load_pipeline(f"{flow}:fine").run({}, executor="inline", tracking_uri=uri)
    assert finished.status == "FINISHED"
    with pytest.raises(StepFailed, match="only a FAILED or KILLED run can be resumed"):
        resume(finished.run_id, tracking_uri=uri)

"""Graph shapes × features on every executor (inline, process, and Ray where installed; Ray runs in CI)."""

from __future__ import annotations

import os
import time

import pytest

from modelyard.pipelines import PipelineFailed, load_pipeline, resume

from .conftest import EXECUTORS, count

SHAPES = ["linear", "diamond", "fanout", "conditional", "nested_map"]


def _run(shapes_file: str, shape: str, executor: str, **params):
    pipe = load_pipeline(f"{shapes_file}:{shape}")
    return pipe.run(params, executor=executor, max_workers=2)


def _gone(pid: int, deadline: float) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``deadline`` seconds (polled)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        except OSError:  # no /proc: ask the kernel
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.1)
    return False


def _expected(shapes_file: str, shape: str, n: int, factor: int) -> int:
    import importlib.util

    spec = importlib.util.spec_from_file_location("shapes_expected", shapes_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED[shape](n, factor)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cache_hit_and_invalidation_by_helper(store, shapes_file, workdir, shape, executor):
    first = _run(shapes_file, shape, executor, workdir=workdir)
    assert first.status == "FINISHED"
    assert first.output == _expected(shapes_file, shape, 3, 10)
    assert all(t.status == "FINISHED" for t in first.tasks.values())

    second = _run(shapes_file, shape, executor, workdir=workdir)
    assert second.output == first.output
    assert {t.status for t in second.tasks.values()} == {"CACHED"}
    assert count(workdir, "source") == 1

    with open(shapes_file) as fh:
        text = fh.read()
    with open(shapes_file, "w") as fh:
        fh.write(text.replace("return x * FACTOR", "return x * FACTOR * 2  # changed helper"))
    third = _run(shapes_file, shape, executor, workdir=workdir)
    assert third.output == _expected(shapes_file, shape, 3, 20)
    assert third.tasks["source"].status == "CACHED"
    assert third.tasks["core"].status == "FINISHED"  # its helper changed
    assert count(workdir, "core") == 2


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("shape", SHAPES)
def test_retry_then_success(store, shapes_file, workdir, shape, executor):
    result = _run(shapes_file, shape, executor, workdir=workdir, mode="retry")
    assert result.status == "FINISHED"
    assert result.output == _expected(shapes_file, shape, 3, 10)
    assert result.tasks["core"].attempts == 2
    assert count(workdir, "core") == 2


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("shape", SHAPES)
def test_timeout(store, shapes_file, workdir, shape, executor):
    sleep = 1.3 if executor == "inline" else 120.0
    with pytest.raises(PipelineFailed) as info:
        _run(shapes_file, shape, executor, workdir=workdir, mode="timeout", sleep=sleep)
    from modelyard import Client

    rec = Client().get_pipeline_run(info.value.run_id)
    slow = rec.step("slow")
    assert slow.status == "FAILED" and slow.error.startswith("timeout")
    if executor == "inline":
        assert "cannot stop" in slow.error and count(workdir, "slow_done") == 1
    else:  # the step's process was stopped, not waited for: it is gone long before its sleep would end
        pid_file = os.path.join(workdir, "slow.pid")
        if os.path.exists(pid_file):  # absent when a busy machine took the 1 s timeout to start the process
            with open(pid_file) as fh:
                pid = int(fh.read())
            assert _gone(pid, deadline=60), f"the timed-out step's process {pid} is still running"
        assert count(workdir, "slow_done") == 0
    downstream = [s for s in rec.steps if s.position > slow.position]
    assert all(s.status == "SKIPPED" for s in downstream)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("shape", SHAPES)
def test_failure_then_resume(store, shapes_file, workdir, shape, executor):
    open(os.path.join(workdir, "broken"), "w").close()
    with pytest.raises(PipelineFailed) as info:
        _run(shapes_file, shape, executor, workdir=workdir, mode="fail")
    run_id = info.value.run_id
    assert "core" in info.value.failed
    assert count(workdir, "core") == 3  # 1 + 2 retries
    os.remove(os.path.join(workdir, "broken"))

    result = resume(run_id, executor=executor, max_workers=2)
    assert result.run_id == run_id and result.status == "FINISHED"
    assert result.output == _expected(shapes_file, shape, 3, 10)
    assert result.tasks["source"].status == "REUSED"
    assert count(workdir, "source") == 1  # finished steps are not run again
    assert count(workdir, "core") == 4
    from modelyard import Client

    rec = Client().get_pipeline_run(run_id)
    assert rec.status == "FINISHED"
    assert {s.status for s in rec.steps} <= {"FINISHED", "CACHED"}

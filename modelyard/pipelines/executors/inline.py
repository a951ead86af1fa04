"""The inline executor: each step runs at its call, in this thread — simple to debug with pdb.

Values are handed to the next step in memory (and still stored). A timeout
cannot stop a running step here: the overrun is reported as a ``StepTimeout``
once the step returns.
"""

from __future__ import annotations

import time
from typing import Any

from ...entities import RunInfo
from .. import materialize
from ..errors import StepFailed, StepTimeout
from ..task import StepRun, invoke, write_logs


class InlineExecutor:
    name = "inline"
    in_process = True
    concurrency = 1

    def prepare(self, tracking_uri: str) -> None:
        pass

    def attempt(self, ctx: Any, task: Any, bound: Any) -> tuple[dict[str, Any], Any]:
        args = ctx.resolve(bound.args)
        kwargs = ctx.resolve(dict(bound.kwargs))
        artifact_uri = ctx.step_artifact_uri(task)
        info = RunInfo(task.run_id, ctx.experiment_id, task.key, ctx.user_id, "RUNNING", task.start_time, None, artifact_uri)
        active = StepRun(info, ctx.recorder.ensure)
        started = time.monotonic()
        value, out, err, error, trace = invoke(task.step.fn, tuple(args), kwargs, active)
        elapsed = time.monotonic() - started
        if out or err:
            write_logs(ctx.repo(artifact_uri), out, err)
        if error is not None:
            raise StepFailed(f"{type(error).__name__}: {error}", task.key, task.run_id, trace) from error
        timeout = task.step.timeout
        if timeout is not None and elapsed > timeout:
            raise StepTimeout(
                f"ran {elapsed:.2f}s, past its timeout of {timeout}s (the inline executor cannot stop a running "
                "step: it reports the overrun; use the process or ray executor to stop it)", task.key, task.run_id)
        return materialize.save(value, artifact_uri, ctx.repo), value

    def close(self) -> None:
        pass

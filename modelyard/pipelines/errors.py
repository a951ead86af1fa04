"""Errors of pipelines, inside modelyard's error tree::

    ModelyardError
    ├── InvalidParameterValue
    │   └── PipelineCheckError      problems found before the first step runs (file:line each)
    └── PipelineError
        ├── StepFailed              a step failed after its retries (its handle's value raises it)
        │   ├── StepTimeout         a step ran past its timeout
        │   └── UpstreamFailed      a step could not run: an input's step failed
        └── PipelineFailed          the run ended with failed steps; ``run_id`` resumes it
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidParameterValue, ModelyardError


@dataclass(frozen=True)
class Problem:
    """One finding of a pre-run check: where, which check, what."""

    file: str
    line: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.check}] {self.message}"


class PipelineCheckError(InvalidParameterValue):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) found before running:\n{lines}")


class PipelineError(ModelyardError):
    error_code = "PIPELINE_ERROR"


class StepFailed(PipelineError):
    def __init__(self, message: str, task_key: str = "", run_id: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.task_key = task_key
        self.run_id = run_id
        self.traceback = traceback


class StepTimeout(StepFailed):
    pass


class UpstreamFailed(StepFailed):
    pass


class PipelineFailed(PipelineError):
    def __init__(self, message: str, run_id: str, failed: list[str]) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.failed = failed

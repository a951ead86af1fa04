"""Pipelines: steps in plain Python, cached, retried, scheduled, tracked as nested runs.

>>> import modelyard as my
>>> @my.step
... def load(n: int) -> list[int]:
...     return list(range(n))
>>> @my.step(retries=2, timeout=60)
... def square(x: int) -> int:
...     return x * x
>>> @my.pipeline
... def squares(n: int = 4):
...     return square.map(load(n))
>>> squares.run({"n": 3}, executor="inline").output
[0, 1, 4]

Executors: ``inline`` (in this thread), ``process`` (default; worker processes),
``ray``. Lineage: :func:`lineage` (``Client.get_pipeline_lineage``).
"""

from .engine import StepFailure as StepFailure
from .errors import PipelineCheckError as PipelineCheckError
from .errors import PipelineError as PipelineError
from .errors import PipelineFailed as PipelineFailed
from .errors import Problem as Problem
from .errors import StepFailed as StepFailed
from .errors import StepTimeout as StepTimeout
from .errors import UpstreamFailed as UpstreamFailed
from .materialize import PickledOutputWarning as PickledOutputWarning
from .pipeline import Pipeline as Pipeline
from .pipeline import PipelineRun as PipelineRun
from .pipeline import load_pipeline as load_pipeline
from .pipeline import pipeline as pipeline
from .runner import lineage as lineage
from .runner import resume as resume
from .step import Handle as Handle
from .step import Step as Step
from .step import step as step

__all__ = [
    "Handle",
    "PickledOutputWarning",
    "Pipeline",
    "PipelineCheckError",
    "PipelineError",
    "PipelineFailed",
    "PipelineRun",
    "Problem",
    "Step",
    "StepFailed",
    "StepFailure",
    "StepTimeout",
    "UpstreamFailed",
    "lineage",
    "load_pipeline",
    "pipeline",
    "resume",
    "step",
]

"""modelyard: track, register, serve and monitor models — one package, MLflow-compatible.

>>> import modelyard as my
>>> my.set_experiment("demo")
>>> with my.start_run(run_name="first"):
...     my.log_param("lr", 0.01)
...     my.log_metric("loss", 0.3, step=1)
"""

__version__ = "0.1.0"

import typing as _typing

from .client import Client as Client
from .client.fluent import ActiveRun as ActiveRun
from .client.fluent import active_run as active_run
from .client.fluent import create_experiment as create_experiment
from .client.fluent import delete_experiment as delete_experiment
from .client.fluent import delete_tag as delete_tag
from .client.fluent import end_run as end_run
from .client.fluent import flush as flush
from .client.fluent import get_experiment as get_experiment
from .client.fluent import get_experiment_by_name as get_experiment_by_name
from .client.fluent import get_metric_history as get_metric_history
from .client.fluent import get_run as get_run
from .client.fluent import last_active_run as last_active_run
from .client.fluent import log_artifact as log_artifact
from .client.fluent import log_artifacts as log_artifacts
from .client.fluent import log_dict as log_dict
from .client.fluent import log_figure as log_figure
from .client.fluent import log_input as log_input
from .client.fluent import log_metric as log_metric
from .client.fluent import log_metrics as log_metrics
from .client.fluent import log_param as log_param
from .client.fluent import log_params as log_params
from .client.fluent import log_text as log_text
from .client.fluent import search_experiments as search_experiments
from .client.fluent import search_runs as search_runs
from .client.fluent import set_experiment as set_experiment
from .client.fluent import set_tag as set_tag
from .client.fluent import set_tags as set_tags
from .client.fluent import start_run as start_run
from .client.prompts import delete_prompt_alias as delete_prompt_alias
from .client.prompts import load_prompt as load_prompt
from .client.prompts import register_prompt as register_prompt
from .client.prompts import search_prompts as search_prompts
from .client.prompts import set_prompt_alias as set_prompt_alias
from .client.uri import get_tracking_uri as get_tracking_uri
from .client.uri import set_tracking_uri as set_tracking_uri
from .entities import Dataset as Dataset
from .entities import Experiment as Experiment
from .entities import Metric as Metric
from .entities import Param as Param
from .entities import Run as Run
from .entities import RunInfo as RunInfo
from .entities import RunStatus as RunStatus
from .entities import RunTag as RunTag
from .entities import ViewType as ViewType
from .errors import ModelyardError as ModelyardError

if _typing.TYPE_CHECKING:
    from . import data as data
    from . import models as models
    from . import monitoring as monitoring
    from . import pipelines as pipelines
    from . import tracing as tracing
    from .pipelines import pipeline as pipeline
    from .pipelines import step as step
    from .tracing import start_span as start_span
    from .tracing import trace as trace

# Loaded on first use, so ``import modelyard`` stays light (no pandas, numpy, cloudpickle...).
_LAZY = {
    "data": ("modelyard.data", None),
    "models": ("modelyard.models", None),
    "pipelines": ("modelyard.pipelines", None),
    "pipeline": ("modelyard.pipelines", "pipeline"),
    "step": ("modelyard.pipelines", "step"),
    "tracing": ("modelyard.tracing", None),
    "monitoring": ("modelyard.monitoring", None),
    "trace": ("modelyard.tracing", "trace"),
    "start_span": ("modelyard.tracing", "start_span"),
}


def __getattr__(name: str) -> _typing.Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ActiveRun",
    "Client",
    "Dataset",
    "Experiment",
    "Metric",
    "ModelyardError",
    "Param",
    "Run",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
    "__version__",
    "active_run",
    "create_experiment",
    "data",
    "delete_experiment",
    "delete_prompt_alias",
    "delete_tag",
    "end_run",
    "flush",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "load_prompt",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "models",
    "monitoring",
    "pipeline",
    "pipelines",
    "register_prompt",
    "search_experiments",
    "search_prompts",
    "search_runs",
    "set_experiment",
    "set_prompt_alias",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "start_span",
    "step",
    "trace",
    "tracing",
]

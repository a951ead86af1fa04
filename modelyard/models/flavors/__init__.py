"""Flavors by name, resolved lazily (importing one never imports torch or transformers).

Each flavor module provides:

- ``FLAVOR_NAME`` and ``handles(model) -> bool`` (a cheap check, no heavy imports);
- ``save(model, path, meta, **options) -> list[str]``: write the files, add the flavor
  sections to ``meta``, return the distributions the model needs;
- ``wrap(model, **options) -> Predictor``: an in-memory predictor (to infer signatures);
- ``load(path, meta, trust=TrustPolicy) -> Predictor``: read a saved model back, asking the
  :class:`~modelyard.models.trust.TrustPolicy` before anything is unpickled;
- ``_load_pyfunc(path)``: the hook ``mlflow.pyfunc.load_model`` calls.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ...errors import InvalidParameterValue
from ..trust import UnsafeSerializationWarning as UnsafeSerializationWarning
from ..trust import warn_unsafe as warn_unsafe

_PKG = "modelyard.models.flavors"

FLAVORS: dict[str, str] = {
    "sklearn": f"{_PKG}.sklearn",
    "pytorch": f"{_PKG}.pytorch",
    "transformers": f"{_PKG}.transformers",
    "python_model": f"{_PKG}.python_model",
}

# Detection order: the most specific first (a Pipeline is also callable, a Module has no predict).
_DETECT = ("transformers", "pytorch", "sklearn", "python_model")

# ``python_function.loader_module`` of MLflow's flavors → our module that reads that format.
LOADERS: dict[str, str] = {
    "mlflow.sklearn": FLAVORS["sklearn"],
    "mlflow.transformers": FLAVORS["transformers"],
    "mlflow.pytorch": FLAVORS["pytorch"],
    "mlflow.pyfunc.model": f"{_PKG}.mlflow_pyfunc",
    **{module: module for module in FLAVORS.values()},
}


def get(name: str) -> ModuleType:
    """The flavor module called ``name`` (``sklearn``, ``pytorch``, ``transformers``, ``python_model``)."""
    try:
        return importlib.import_module(FLAVORS[name])
    except KeyError:
        raise InvalidParameterValue(f"Unknown flavor {name!r}: choose one of {sorted(FLAVORS)}.") from None


def detect(model: Any) -> ModuleType:
    """The flavor that can save ``model``."""
    for name in _DETECT:
        module = get(name)
        if module.handles(model):
            return module
    raise InvalidParameterValue(
        f"No flavor can save a {type(model).__module__}.{type(model).__qualname__}: it needs a "
        "scikit-learn estimator, a torch.nn.Module, a transformers model or pipeline, or a "
        "`predict(model_input)` method."
    )


def loader_for(loader_module: str | None, flavors: dict[str, Any]) -> ModuleType | None:
    """The module that loads a model saved with this ``loader_module`` (or these flavor sections)."""
    if loader_module in LOADERS:
        return importlib.import_module(LOADERS[loader_module])
    if loader_module is None:
        for name in ("transformers", "pytorch", "sklearn"):
            if name in flavors:
                return get(name)
    return None


def type_path(obj_or_cls: Any) -> str:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f"{cls.__module__}.{cls.__qualname__}"


def module_startswith(model: Any, *prefixes: str) -> bool:
    """Whether ``model``'s class or any base comes from a module under one of ``prefixes``."""
    return any(
        (getattr(klass, "__module__", "") or "").split(".")[0] in prefixes for klass in type(model).__mro__
    )

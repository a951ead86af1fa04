"""Plain Python: any object with ``predict(model_input)``.

By default the object is saved as a reference to its importable class plus its
state: JSON-able attributes in ``state.json``, numpy arrays in ``state.npz``
(read back without pickle). The class must be importable where the model is
loaded (not defined in ``__main__`` or inside a function). Anything else needs
``serialization_format="cloudpickle"``, which warns.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

import numpy as np

from ...errors import InvalidParameterValue, ModelyardError
from ..environment import pyfunc_conf
from ..mlmodel import Model
from ..pyfunc import call_predict
from ..trust import TrustPolicy, local_policy
from . import warn_unsafe

FLAVOR_NAME = "python_class"
LOADER = "modelyard.models.flavors.python_model"
STATE_JSON = "state.json"
STATE_NPZ = "state.npz"
PICKLE_FILE = "python_model.pkl"


def handles(model: Any) -> bool:
    return callable(getattr(model, "predict", None))


class PythonPredictor:
    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return call_predict(self.raw_model, data, params)


def wrap(model: Any, **_: Any) -> PythonPredictor:
    return PythonPredictor(model)


def save(model: Any, path: str, meta: Model, serialization_format: str | None = None, **_: Any) -> list[str]:
    fmt = serialization_format or "state"
    conf: dict[str, Any] = {"class": class_reference(model, strict=fmt == "state"), "serialization_format": fmt}
    packages = ["numpy"]
    if fmt == "cloudpickle":
        warn_unsafe("Saving", fmt)
        import cloudpickle

        with open(os.path.join(path, PICKLE_FILE), "wb") as fh:
            cloudpickle.dump(model, fh)
        conf["python_model"] = PICKLE_FILE
        packages.append("cloudpickle")
    elif fmt == "state":
        conf["state"] = _save_state(model, path)
    else:
        raise InvalidParameterValue(f"Unknown serialization_format {fmt!r} for a Python model: use 'state' or 'cloudpickle'.")
    meta.add_flavor("python_function", **pyfunc_conf(LOADER))
    meta.add_flavor(FLAVOR_NAME, **conf)
    return packages


def class_reference(obj: Any, strict: bool = True) -> str:
    cls = type(obj)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    if strict and (cls.__module__ == "__main__" or "<locals>" in cls.__qualname__):
        raise InvalidParameterValue(
            f"Class {ref} cannot be imported where the model is loaded: move it into a module "
            "(a file on the import path), or save with serialization_format='cloudpickle'."
        )
    return ref


def import_class(ref: str, base: type | None = None) -> type:
    """The class ``module:Qual.Name`` names, refusing anything that is not a class (of ``base``).

    A model's files choose ``ref``: without this check a crafted MLmodel could
    name any callable (``subprocess:run``) and have the loader call it.
    """
    module_name, _, qualname = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelyardError(f"Cannot import the model class {ref}: {exc}. Install the code that defines it.") from exc
    if not isinstance(obj, type) or (base is not None and not issubclass(obj, base)):
        expected = f"a subclass of {base.__module__}.{base.__qualname__}" if base is not None else "a class"
        raise ModelyardError(f"The model names {ref!r} as its class, which is not {expected}; refusing to load it.")
    return obj


def _save_state(model: Any, path: str) -> list[str]:
    state = model.__getstate__() if hasattr(model, "__getstate__") else vars(model)
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise InvalidParameterValue("The model's state must be a dict (its __dict__ or __getstate__()).")
    # values typed Any: savez(**arrays) then cannot be taken for its allow_pickle flag
    arrays: dict[str, Any] = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    plain = {k: v for k, v in state.items() if k not in arrays}
    bad = []
    for key, value in plain.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            bad.append(f"{key} ({type(value).__name__})")
    if bad:
        raise InvalidParameterValue(
            f"Attributes {bad} are neither JSON values nor numpy arrays: make them so, define "
            "__getstate__/__setstate__, or save with serialization_format='cloudpickle'."
        )
    files = []
    if plain:
        with open(os.path.join(path, STATE_JSON), "w", encoding="utf-8") as fh:
            json.dump(plain, fh)
        files.append(STATE_JSON)
    if arrays:
        if any(a.dtype == object for a in arrays.values()):
            raise InvalidParameterValue("Object arrays cannot be saved without pickle: use a numeric or string dtype.")
        np.savez(os.path.join(path, STATE_NPZ), **arrays)
        files.append(STATE_NPZ)
    return files


def load(path: str, meta: Model, *, trust: TrustPolicy, **_: Any) -> PythonPredictor:
    conf = meta.flavors.get(FLAVOR_NAME) or {}
    if conf.get("serialization_format") == "cloudpickle":
        trust.check_pickle("cloudpickle")
        import cloudpickle

        with open(os.path.join(path, conf.get("python_model", PICKLE_FILE)), "rb") as fh:
            return PythonPredictor(cloudpickle.load(fh))
    cls: Any = import_class(conf["class"])  # Any: mypy takes cls.__new__ for type.__new__
    state: dict[str, Any] = {}
    if STATE_JSON in conf.get("state", []):
        with open(os.path.join(path, STATE_JSON), encoding="utf-8") as fh:
            state.update(json.load(fh))
    if STATE_NPZ in conf.get("state", []):
        with np.load(os.path.join(path, STATE_NPZ), allow_pickle=False) as npz:
            state.update({k: npz[k] for k in npz.files})
    obj = cls.__new__(cls)
    setstate = getattr(obj, "__setstate__", None)
    if setstate is not None:
        setstate(state)
    else:
        obj.__dict__.update(state)
    return PythonPredictor(obj)


def _load_pyfunc(path: str) -> PythonPredictor:
    """Called by ``mlflow.pyfunc.load_model`` (``loader_module`` of this flavor)."""
    return load(path, Model.load(path), trust=local_policy())

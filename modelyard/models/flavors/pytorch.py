"""PyTorch: weights in safetensors plus the module's class and constructor kwargs.

Limitation, by design of a pickle-free format: the module's class must be
importable where the model is loaded, and rebuilt by ``cls(**init_kwargs)``.
The kwargs are given with ``init_kwargs=...`` or read from same-named attributes
of the module (``self.hidden = hidden`` in ``__init__``). A ``torch.jit.ScriptModule``
is saved as TorchScript and needs no class. ``serialization_format="pickle"``
saves the whole module with ``torch.save`` (warns). Models logged by
``mlflow.pytorch`` load too, its ``pt2`` (``torch.export``) and ``pickle`` formats
alike as pickles (a pt2 archive may hold pickled weights and objects, which
``torch.export.load`` unpickles): with a warning, and in ``modelyard serve`` only when
pickles are allowed. TorchScript loads through torch's own restricted unpickler.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InvalidParameterValue
from ..environment import pyfunc_conf
from ..mlmodel import Model
from ..trust import TrustPolicy, local_policy
from . import module_startswith, warn_unsafe
from .python_model import class_reference, import_class

FLAVOR_NAME = "pytorch"
LOADER = "modelyard.models.flavors.pytorch"
DATA_DIR = "data"
WEIGHTS = "model.safetensors"
SCRIPT = "model.pt"
PICKLED = "model.pth"
EXPORTED = "model.pt2"
KWARGS = "init_kwargs.json"


def handles(model: Any) -> bool:
    return module_startswith(model, "torch") and hasattr(model, "state_dict") and callable(model)


class TorchPredictor:
    """numpy / DataFrame / dict of arrays → tensors → forward → numpy."""

    def __init__(self, model: Any) -> None:
        import torch

        self.raw_model = model
        try:
            model.eval()
        except NotImplementedError:  # modules from torch.export are already in inference mode
            pass
        param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        self._dtype = param.dtype if param is not None else torch.float32
        self._device = param.device if param is not None else torch.device("cpu")

    def _tensor(self, value: Any) -> Any:
        import torch

        if isinstance(value, torch.Tensor):
            return value.to(self._device)
        if isinstance(value, (pd.DataFrame, pd.Series)):
            value = value.to_numpy()
        arr = np.asarray(value)
        tensor = torch.from_numpy(np.ascontiguousarray(arr))
        if tensor.is_floating_point():
            tensor = tensor.to(self._dtype)
        return tensor.to(self._device)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import torch

        with torch.no_grad():
            if isinstance(data, dict):
                out = self.raw_model(**{k: self._tensor(v) for k, v in data.items()})
            else:
                out = self.raw_model(self._tensor(data))
        return _to_numpy(out)


def _to_numpy(out: Any) -> Any:
    if hasattr(out, "detach"):
        return out.detach().cpu().numpy()
    if isinstance(out, (tuple, list)):
        return type(out)(_to_numpy(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_numpy(v) for k, v in out.items()}
    return out


def wrap(model: Any, **_: Any) -> TorchPredictor:
    return TorchPredictor(model)


def save(
    model: Any,
    path: str,
    meta: Model,
    serialization_format: str | None = None,
    init_kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> list[str]:
    import torch

    data = os.path.join(path, DATA_DIR)
    os.makedirs(data, exist_ok=True)
    conf: dict[str, Any] = {"model_data": DATA_DIR, "pytorch_version": str(torch.__version__), "code": None}
    packages = ["torch"]
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, os.path.join(data, SCRIPT))
        conf.update(model_format="torchscript", model_file=SCRIPT)
    elif serialization_format == "pickle":
        warn_unsafe("Saving", "pickle (torch.save)")
        torch.save(model, os.path.join(data, PICKLED))
        conf.update(model_format="pickle", model_file=PICKLED)
    elif serialization_format in (None, "safetensors"):
        from safetensors.torch import save_model

        kwargs = init_kwargs if init_kwargs is not None else _guess_init_kwargs(model)
        try:
            text = json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterValue(f"init_kwargs must be JSON values: {exc}") from None
        save_model(model, os.path.join(data, WEIGHTS))
        with open(os.path.join(data, KWARGS), "w", encoding="utf-8") as fh:
            fh.write(text)
        conf.update(model_format="safetensors", model_file=WEIGHTS, model_class=class_reference(model), init_kwargs=KWARGS)
        packages.append("safetensors")
    else:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r} for PyTorch: use 'safetensors' or 'pickle'."
        )
    meta.add_flavor("python_function", **pyfunc_conf(LOADER))
    meta.add_flavor(FLAVOR_NAME, **conf)
    return packages


def _guess_init_kwargs(model: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    missing = []
    for name, p in inspect.signature(type(model).__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if hasattr(model, name) and _is_json(getattr(model, name)):
            kwargs[name] = getattr(model, name)
        elif p.default is p.empty:
            missing.append(name)
    if missing:
        raise InvalidParameterValue(
            f"Cannot tell the constructor arguments {missing} of {type(model).__qualname__}: pass "
            "init_kwargs={...}, keep them as same-named attributes, or save a TorchScript module."
        )
    return kwargs


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def load(path: str, meta: Model, *, trust: TrustPolicy, **_: Any) -> TorchPredictor:
    import torch

    conf = meta.flavors.get(FLAVOR_NAME) or {}
    data = os.path.join(path, conf.get("model_data", DATA_DIR))
    fmt = conf.get("model_format")
    if fmt == "torchscript":
        model = torch.jit.load(os.path.join(data, conf.get("model_file", SCRIPT)), map_location="cpu")  # type: ignore[no-untyped-call]
    elif fmt == "safetensors":
        from safetensors.torch import load_model

        with open(os.path.join(data, conf.get("init_kwargs", KWARGS)), encoding="utf-8") as fh:
            kwargs = json.load(fh)
        model = import_class(conf["model_class"], base=torch.nn.Module)(**kwargs)
        load_model(model, os.path.join(data, conf.get("model_file", WEIGHTS)), device="cpu")
    elif fmt is None and os.path.isfile(os.path.join(data, EXPORTED)):  # mlflow.pytorch's default, "pt2"
        trust.check_pickle("torch.export (pt2), whose archive may hold pickled objects")
        model = torch.export.load(os.path.join(data, EXPORTED)).module()
    else:  # ours with pickle, or mlflow.pytorch's "pickle" format
        trust.check_pickle("pickle (torch.load)")
        model = torch.load(os.path.join(data, conf.get("model_file", PICKLED)), map_location="cpu", weights_only=False)
    return TorchPredictor(model)


def _load_pyfunc(path: str) -> TorchPredictor:
    """Called by ``mlflow.pyfunc.load_model`` (``loader_module`` of this flavor)."""
    return load(path, Model.load(path), trust=local_policy())

"""Read models that MLflow saved with ``mlflow.pyfunc.save_model(python_model=...)``.

They are cloudpickled ``mlflow.pyfunc.PythonModel`` subclasses: unpickling them
imports ``mlflow`` (install ``mlflow-skinny``) and can run arbitrary code, so it
warns. Models-from-code (``model_code_path``) are not supported: load those with MLflow.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from ...errors import ModelyardError
from ..mlmodel import Model
from ..pyfunc import call_predict
from ..trust import TrustPolicy

FLAVOR_NAME = "python_function"


class MlflowPythonModelPredictor:
    def __init__(self, python_model: Any, context: Any) -> None:
        self.raw_model = python_model
        self.context = context

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return call_predict(self.raw_model, data, params, context=self.context)


def load(path: str, meta: Model, *, trust: TrustPolicy, **_: Any) -> MlflowPythonModelPredictor:
    conf = meta.flavors.get(FLAVOR_NAME) or {}
    if "model_code_path" in conf:
        raise ModelyardError(
            "This MLflow model is defined by code (model_code_path): load it with mlflow.pyfunc.load_model."
        )
    trust.check_pickle("cloudpickle (an MLflow PythonModel)")
    import cloudpickle

    try:
        with open(os.path.join(path, conf.get("python_model", "python_model.pkl")), "rb") as fh:
            python_model = cloudpickle.load(fh)
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("mlflow"):
            raise ModelyardError(
                "This model is an MLflow PythonModel: loading it needs mlflow installed "
                "(pip install mlflow-skinny)."
            ) from exc
        raise
    artifacts = {
        name: os.path.join(path, spec["path"] if isinstance(spec, dict) else spec)
        for name, spec in (conf.get("artifacts") or {}).items()
    }
    context = SimpleNamespace(artifacts=artifacts, model_config=conf.get("config") or conf.get("model_config") or {})
    if hasattr(python_model, "load_context"):
        python_model.load_context(context)
    return MlflowPythonModelPredictor(python_model, context)

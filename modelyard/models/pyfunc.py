"""``PyFuncModel``: one ``predict`` for every flavor, with the signature enforced."""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from .enforce import enforce_schema
from .examples import load_example
from .mlmodel import Model
from .signature import ModelSignature


class Predictor(Protocol):
    """What a flavor loader returns: ``predict`` and the native model behind it."""

    raw_model: Any

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


class PyFuncModel:
    """A loaded model: ``predict(DataFrame | ndarray | list | dict)``, its metadata, its native model.

    >>> model = my.models.load_model("models:/churn@champion")
    >>> model.predict(pd.DataFrame({"age": [42], "plan": ["pro"]}))
    """

    def __init__(self, metadata: Model, predictor: Predictor, path: str) -> None:
        self._meta = metadata
        self._impl = predictor
        self.path = path

    @property
    def metadata(self) -> Model:
        """The ``MLmodel`` contents: ``flavors``, ``signature``, ``run_id``, ``model_uuid``…"""
        return self._meta

    @property
    def signature(self) -> ModelSignature | None:
        return self._meta.signature

    @property
    def flavors(self) -> dict[str, dict[str, Any]]:
        return self._meta.flavors

    @property
    def run_id(self) -> str | None:
        return self._meta.run_id

    @property
    def input_example(self) -> Any:
        sig = self._meta.signature
        return load_example(self.path, self._meta.saved_input_example_info, sig.inputs if sig else None)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Check ``data`` against the input signature, convert it, and predict."""
        sig = self._meta.signature
        data = enforce_schema(data, sig.inputs if sig is not None else None)
        return self._impl.predict(data, params)

    def predict_checked(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on ``data`` that the caller has already checked against the signature.

        For servers that validate requests their own (faster) way; anyone else
        wants :meth:`predict`.
        """
        return self._impl.predict(data, params)

    def unwrap_python_model(self) -> Any:
        """The native model: the estimator, ``nn.Module``, pipeline or Python object."""
        return self._impl.raw_model

    get_raw_model = unwrap_python_model

    def __repr__(self) -> str:
        names = ", ".join(self._meta.flavors)
        return f"<PyFuncModel flavors=[{names}] run_id={self._meta.run_id!r} path={self.path!r}>"


def call_predict(obj: Any, data: Any, params: dict[str, Any] | None, context: Any = None) -> Any:
    """Call ``obj.predict`` whichever of MLflow's shapes it has: with or without ``context``, ``params``."""
    fn = obj.predict
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    args: list[Any] = [context, data] if names[:1] == ["context"] else [data]
    if "params" in names and params is not None:
        return fn(*args, params=params)
    return fn(*args)

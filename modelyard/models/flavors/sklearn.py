"""scikit-learn: skops by default, pickle or cloudpickle only when asked.

The files and ``MLmodel`` sections are MLflow's own (``loader_module:
mlflow.sklearn``, ``pickled_model``, ``serialization_format``…), so
``mlflow.pyfunc.load_model`` and ``mlflow.sklearn.load_model`` read what we write,
and we read what they write. Unlike MLflow, we never trust the skops types a model
declares about itself alone: a type loads only when the loader's
:class:`~modelyard.models.trust.TrustPolicy` trusts it too (scikit-learn's own
compiled types, such as a forest's ``Tree``, are trusted by default). Saving
declares the types the model needs in ``skops_trusted_types``, as MLflow does.
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import InvalidParameterValue
from ..environment import pyfunc_conf
from ..mlmodel import Model
from ..trust import TrustPolicy, local_policy
from . import module_startswith, warn_unsafe

FLAVOR_NAME = "sklearn"
FORMATS = ("skops", "pickle", "cloudpickle")
_FILES = {"skops": "model.skops", "pickle": "model.pkl", "cloudpickle": "model.pkl"}


def handles(model: Any) -> bool:
    return module_startswith(model, "sklearn") and hasattr(model, "fit")


class SklearnPredictor:
    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.raw_model.predict(data)


def wrap(model: Any, **_: Any) -> SklearnPredictor:
    return SklearnPredictor(model)


def save(
    model: Any,
    path: str,
    meta: Model,
    serialization_format: str | None = None,
    skops_trusted_types: list[str] | None = None,
    **_: Any,
) -> list[str]:
    import sklearn

    fmt = serialization_format or "skops"
    if fmt not in FORMATS:
        raise InvalidParameterValue(f"Unknown serialization_format {fmt!r} for scikit-learn: choose one of {FORMATS}.")
    data_file = _FILES[fmt]
    target = os.path.join(path, data_file)
    declared = skops_trusted_types
    if fmt == "skops":
        import skops.io

        skops.io.dump(model, target)
        needed = sorted(skops.io.get_untrusted_types(file=target))
        trusted = local_policy(skops_trusted_types).trusted_types
        untrusted = [t for t in needed if t not in trusted]
        if untrusted:
            os.remove(target)
            raise InvalidParameterValue(
                f"The model uses types skops does not trust by default: {untrusted}. If loading them is "
                "safe, pass skops_trusted_types=[...] listing them (and trust them where the model is loaded: "
                "skops_trusted_types= of load_model, --trusted-types or MODELYARD_SKOPS_TRUSTED_TYPES)."
            )
        declared = needed or None  # what the model needs, as MLflow's own list must name
    else:
        warn_unsafe("Saving", fmt)
        import pickle

        pickler: Any = pickle
        if fmt == "cloudpickle":
            import cloudpickle

            pickler = cloudpickle
        with open(target, "wb") as fh:
            pickler.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)
    if hasattr(model, "predict"):
        meta.add_flavor("python_function", **pyfunc_conf(
            "mlflow.sklearn", model_path=data_file, predict_fn="predict", code=None,
        ))
    meta.add_flavor(
        FLAVOR_NAME,
        pickled_model=data_file,
        sklearn_version=sklearn.__version__,
        serialization_format=fmt,
        code=None,
        skops_trusted_types=declared,
    )
    return ["scikit-learn", *({"skops": ["skops"], "cloudpickle": ["cloudpickle"]}.get(fmt, []))]


def load(path: str, meta: Model, *, trust: TrustPolicy, **_: Any) -> SklearnPredictor:
    conf = meta.flavors.get(FLAVOR_NAME) or {}
    pyfunc = meta.flavors.get("python_function") or {}
    data_file = conf.get("pickled_model") or pyfunc.get("model_path") or "model.pkl"
    fmt = conf.get("serialization_format", "pickle")
    if fmt not in FORMATS:
        raise InvalidParameterValue(f"Unknown scikit-learn serialization_format {fmt!r} in MLmodel.")
    target = os.path.join(path, data_file)
    if fmt == "skops":
        import skops.io

        trusted = trust.skops_types(skops.io.get_untrusted_types(file=target), conf.get("skops_trusted_types"))
        return SklearnPredictor(skops.io.load(target, trusted=trusted or None))
    trust.check_pickle(fmt)
    import pickle

    with open(target, "rb") as fh:
        if fmt == "cloudpickle":
            import cloudpickle

            return SklearnPredictor(cloudpickle.load(fh))
        return SklearnPredictor(pickle.load(fh))

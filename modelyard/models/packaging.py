"""``save_model``, ``log_model``, ``load_model``: the MLflow model format without MLflow."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import tempfile
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterValue, ModelyardError, ResourceAlreadyExists
from . import flavors
from .environment import installed_version, write_environment
from .examples import save_example
from .mlmodel import Model, directory_size
from .pyfunc import PyFuncModel
from .signature import ModelSignature, infer_schema
from .trust import TrustPolicy, local_policy
from .uri import download_model

log = logging.getLogger(__name__)

HISTORY_TAG = "mlflow.log-model.history"


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`log_model` logged: where it is and what it is."""

    model_uri: str
    run_id: str
    artifact_path: str
    flavors: dict[str, Any]
    signature: ModelSignature | None
    model_uuid: str | None
    utc_time_created: str
    registered_model_version: int | None = None


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    signature: ModelSignature | bool | None = None,
    input_example: Any = None,
    flavor: str | None = None,
    *,
    serialization_format: str | None = None,
    extra_pip_requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    **flavor_options: Any,
) -> Model:
    """Save ``model`` to the directory ``path`` (which must not exist or be empty).

    The flavor is detected from the model unless given (``sklearn``, ``pytorch``,
    ``transformers``, ``python_model``). Without a signature one is inferred from
    ``input_example`` (outputs from predicting on it); ``signature=False`` saves none.
    Flavor options: ``serialization_format`` (``pickle``/``cloudpickle`` warn),
    ``skops_trusted_types``, ``init_kwargs`` (PyTorch), ``tokenizer`` and ``task`` (Transformers).

    >>> my.models.save_model(clf, "out/model", input_example=X_train[:5])
    """
    return _save(model, os.fspath(path), signature, input_example, flavor, serialization_format,
                 extra_pip_requirements, metadata, flavor_options, Model())


def _save(
    model: Any,
    path: str,
    signature: ModelSignature | bool | None,
    input_example: Any,
    flavor: str | None,
    serialization_format: str | None,
    extra_pip_requirements: list[str] | None,
    metadata: dict[str, Any] | None,
    options: dict[str, Any],
    meta: Model,
) -> Model:
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ResourceAlreadyExists(f"Path {path!r} already exists and is not empty.")
    os.makedirs(path, exist_ok=True)
    module = flavors.get(flavor) if flavor else flavors.detect(model)
    meta.modelyard_version = installed_version("modelyard")
    meta.metadata = metadata
    packages = module.save(model, path, meta, serialization_format=serialization_format, **options)
    if input_example is not None:
        meta.saved_input_example_info = save_example(input_example, path)
    if signature is None and input_example is not None:
        signature = _infer(module, model, input_example, options)
    meta.signature = signature if isinstance(signature, ModelSignature) else None
    write_environment(path, ["modelyard", *packages], extra_pip_requirements or ())
    meta.model_size_bytes = directory_size(path)
    meta.save(path)
    return meta


def _infer(module: Any, model: Any, example: Any, options: dict[str, Any]) -> ModelSignature | None:
    inputs = infer_schema(example)
    try:
        output = module.wrap(model, **options).predict(example)
        import numpy as np
        import pandas as pd

        if isinstance(output, np.ndarray) and output.ndim == 1 and not inputs.is_tensor_spec():
            output = pd.Series(output)  # row-wise predictions of a column input, as MLflow
        return ModelSignature(inputs, infer_schema(output))
    except Exception as exc:  # noqa: BLE001 - a model may fail on its example: keep the input schema
        log.warning("Could not infer the model's output schema from its input example: %r", exc)
        return ModelSignature(inputs, None)


def log_model(
    model: Any,
    name: str,
    signature: ModelSignature | bool | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    *,
    run_id: str | None = None,
    flavor: str | None = None,
    serialization_format: str | None = None,
    extra_pip_requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    reference_data: Any = None,
    **flavor_options: Any,
) -> ModelInfo:
    """Save ``model`` as the artifacts ``name/`` of the active run (or ``run_id``), optionally registered.

    ``reference_data`` (the training data: a DataFrame, a mapping of columns) is
    profiled for monitoring (:func:`modelyard.monitoring.profile`): the profile is
    saved as ``reference_profile.json`` beside the model and, when registered,
    stored as the new version's reference.

    >>> with my.start_run():
    ...     info = my.models.log_model(clf, "model", input_example=X[:5], registered_model_name="churn")
    >>> my.models.load_model(info.model_uri).predict(X[:5])
    """
    from ..client.fluent import active_run, get_client, start_run

    name = name.strip("/")
    if not name or ".." in name.split("/"):
        raise InvalidParameterValue(f"Invalid model name {name!r}: use a relative artifact path such as 'model'.")
    client = get_client()
    if run_id is None:
        run = active_run() or start_run()  # as MLflow: logging starts a run when none is active
        run_id = run.info.run_id
    meta = Model(run_id=run_id, artifact_path=name)
    reference = None
    if reference_data is not None:  # profiled first: a reference too small is refused before anything is logged
        from ..monitoring import profile

        reference = profile(reference_data)
    with tempfile.TemporaryDirectory(prefix="modelyard-log-") as tmp:
        local = os.path.join(tmp, posixpath.basename(name))
        _save(model, local, signature, input_example, flavor, serialization_format, extra_pip_requirements,
              metadata, flavor_options, meta)
        if reference is not None:
            with open(os.path.join(local, "reference_profile.json"), "w") as fh:
                json.dump(reference, fh)
        client.log_artifacts(run_id, local, name)
    _append_history(client, run_id, meta)
    uri = f"runs:/{run_id}/{name}"
    version = None
    if registered_model_name:
        version = int(register_model(uri, registered_model_name, client=client).version)
        if reference is not None:
            client.set_reference_profile(registered_model_name, version, reference)
    return ModelInfo(uri, run_id, name, meta.flavors, meta.signature, meta.model_uuid, meta.utc_time_created, version)


def _append_history(client: Any, run_id: str, meta: Model) -> None:
    raw = client.get_run(run_id).data.tags.get(HISTORY_TAG)
    try:
        history = json.loads(raw) if raw else []
    except ValueError:
        history = []
    history.append(meta.tag_entry())
    client.set_tag(run_id, HISTORY_TAG, json.dumps(history))


def register_model(model_uri: str, name: str, client: Any = None) -> Any:
    """Create registered model ``name`` if missing, then a version whose source is ``model_uri``."""
    from ..client.fluent import get_client
    from .uri import parse_runs_uri

    client = client or get_client()
    for method in ("create_registered_model", "create_model_version"):
        if not hasattr(client, method):
            raise ModelyardError(f"This client has no {method}(): the model registry is not available.")
    try:
        client.create_registered_model(name)
    except ResourceAlreadyExists:
        pass
    run_id = parse_runs_uri(model_uri)[0] if model_uri.startswith("runs:") else None
    return client.create_model_version(name, model_uri, run_id)


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | None = None,
    *,
    skops_trusted_types: list[str] | None = None,
    client: Any = None,
    trust: TrustPolicy | None = None,
) -> PyFuncModel:
    """Load a model saved by modelyard or MLflow: a path, ``runs:/``, ``models:/name/N``, ``models:/name@alias``.

    Pickled models (pickle, cloudpickle, PyTorch full-model pickles) load with an
    :class:`UnsafeSerializationWarning`. A skops model loads the types that both its
    ``MLmodel`` declares and this process trusts: scikit-learn's own compiled types,
    ``MODELYARD_SKOPS_TRUSTED_TYPES`` and ``skops_trusted_types``. ``trust`` replaces
    that policy (see :mod:`modelyard.models.trust`: ``modelyard serve`` passes one that
    refuses pickles unless allowed).

    >>> model = my.models.load_model("models:/churn@champion")
    >>> model.predict(df)
    """
    path = download_model(os.fspath(model_uri), dst_path, client)
    meta = Model.load(path)
    pyfunc_conf = meta.pyfunc_conf or {}
    loader = pyfunc_conf.get("loader_module")
    module = flavors.loader_for(loader, meta.flavors)
    if module is None:
        raise ModelyardError(
            f"Cannot load this model: its loader {loader or '(none)'} and flavors {sorted(meta.flavors)} are not "
            f"supported. Supported loaders: {sorted(flavors.LOADERS)}."
        )
    policy = trust.trusting(skops_trusted_types) if trust is not None else local_policy(skops_trusted_types)
    predictor = module.load(path, meta, trust=policy)
    return PyFuncModel(meta, predictor, path)

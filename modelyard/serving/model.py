"""A model version loaded for serving: who it is, how to read its inputs, and one predict path.

The server, the micro-batcher and ``modelyard predict`` all call
:meth:`LoadedModel.predict` on :class:`~modelyard.serving.inputs.Inputs` that
were already checked against the signature, so the signature is not enforced
twice (MLflow spends most of a request doing so).
"""

from __future__ import annotations

import functools
import math
import os
import posixpath
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..models import PyFuncModel, load_model
from ..models.trust import TrustPolicy
from ..models.uri import parse_runs_uri
from .inputs import InputReader, Inputs


@dataclass(frozen=True)
class Target:
    """What a model URI points at right now: a name, a version and a URI that loads exactly it."""

    name: str
    version: str
    load_uri: str
    movable: bool  # an alias or a stage: it may point elsewhere later


def resolve(uri: str, client: Any, name: str | None = None) -> Target:
    """Resolve ``models:/name@alias``, ``models:/name/N|stage|latest``, ``runs:/id/path`` or a path."""
    if uri.startswith("models:"):
        rest = uri[len("models:"):].lstrip("/")
        if "@" in rest or "/" in rest:
            mv = client.resolve_model_version(uri)
            ref = rest.split("@", 1)[1] if "@" in rest else rest.rsplit("/", 1)[1]
            movable = "@" in rest or not ref.isdigit()
            return Target(name or mv.name, str(mv.version), f"models:/{mv.name}/{mv.version}", movable)
        return Target(name or rest, rest, uri, False)  # a logged model id
    if uri.startswith("runs:"):
        run_id, path = parse_runs_uri(uri)
        return Target(name or posixpath.basename(path) or "model", run_id, uri, False)
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return Target(name or os.path.basename(os.path.abspath(path)) or "model", "local", path, False)


@dataclass
class LoadedModel:
    """One model version in memory, ready to answer."""

    target: Target
    pyfunc: PyFuncModel
    reader: InputReader
    loaded_at: float = field(default_factory=time.time)
    tmpdir: str | None = None
    # Measured on the input example at load time; unknown (no example) counts as slow,
    # so such a model never predicts on the event loop.
    predict_ms: float = math.inf
    _frame_names: list[str] | None = None

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def version(self) -> str:
        return self.target.version

    @functools.cached_property
    def batches_tensors(self) -> bool:
        """Tensor requests may be joined along the first axis: the signature's one tensor has a
        variable batch dimension (``-1``), as every row-wise model's does."""
        spec = self.reader.tensor
        return spec is not None and bool(spec.shape) and spec.shape[0] == -1

    def predict(self, inputs: Inputs, params: dict[str, Any] | None = None) -> Any:
        """Predictions for checked inputs (rows in, one prediction per row out)."""
        if inputs.kind == "raw":
            return self.pyfunc.predict(inputs.data, params)
        data = inputs.data
        if inputs.kind == "matrix" and self._frame_names is not None:
            data = pd.DataFrame(data, columns=self._frame_names, copy=False)
        return self.pyfunc.predict_checked(data, params)

    @functools.cached_property
    def _proba(self) -> tuple[Any, Any] | None:
        """(``predict_proba``, ``classes_``) of the native model when it has them (scikit-learn classifiers,
        pipelines ending in one, Python models defining ``predict_proba``); None otherwise."""
        try:
            raw = self.pyfunc.unwrap_python_model()
            fn = getattr(raw, "predict_proba", None)
        except Exception:  # noqa: BLE001 - a model without a native object, or whose attribute raises
            return None
        return (fn, getattr(raw, "classes_", None)) if callable(fn) else None

    def probabilities(self, batch: list[Inputs]) -> list[dict[str, Any] | None]:
        """Per request, ``{"classes": [...], "data": [[p, ...] per row]}`` from the model's ``predict_proba``,
        or None (no ``predict_proba``, raw or tensor inputs, or no row of probabilities per input row).

        The request log calls it on its own thread, off the request path, with
        the requests it writes together: tables and matrices are joined and
        scored in one call.
        """
        out: list[dict[str, Any] | None] = [None] * len(batch)
        found = self._proba
        if found is None:
            return out
        fn, classes = found
        groups: dict[Any, list[int]] = {}
        for i, inputs in enumerate(batch):
            if inputs.kind == "matrix":
                groups.setdefault(("matrix", inputs.data.shape[1]), []).append(i)
            elif inputs.kind == "frame" and isinstance(inputs.data, pd.DataFrame):
                groups.setdefault(("frame", tuple(inputs.data.columns)), []).append(i)
        for (kind, _), idx in groups.items():
            parts = [batch[i].data for i in idx]
            data: Any = np.concatenate(parts) if kind == "matrix" else pd.concat(parts, ignore_index=True, copy=False)
            if kind == "matrix" and self._frame_names is not None:
                data = pd.DataFrame(data, columns=self._frame_names, copy=False)
            probs = np.asarray(fn(data), dtype=np.float64)
            if probs.ndim != 2 or probs.shape[1] < 2 or probs.shape[0] != len(data) or not np.isfinite(probs).all():
                continue
            labels = jsonable(list(classes)) if classes is not None and len(classes) == probs.shape[1] \
                else list(range(probs.shape[1]))
            rows = np.clip(np.round(probs, 6), 0.0, 1.0).tolist()
            start = 0
            for i, part in zip(idx, parts, strict=True):
                out[i] = {"classes": labels, "data": rows[start:start + len(part)]}
                start += len(part)
        return out

    def example_inputs(self) -> Inputs | None:
        """The model's input example read as a request would be, or None."""
        example = self.pyfunc.input_example
        if example is None:
            return None
        if isinstance(example, pd.DataFrame):
            return self.reader.from_frame(example)
        if isinstance(example, dict) and self.reader.names:
            return self.reader.from_instances(example, "input_example")
        if self.reader.tensor is not None:
            return self.reader.from_instances(np.asarray(example), "input_example")
        return self.reader.from_instances(example, "input_example")

    def close(self) -> None:
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def load(target: Target, client: Any, trust: TrustPolicy | None = None) -> LoadedModel:
    """Download and load ``target``, then predict once on its input example (a model that cannot is refused).

    ``trust`` decides which serialized models load (default: the user's own process, where
    pickles warn; the server passes :meth:`ServingConfig.trust`, which refuses them).
    """
    remote = "://" in target.load_uri or target.load_uri.startswith(("models:", "runs:"))
    tmpdir = tempfile.mkdtemp(prefix="modelyard-serve-") if remote else None
    try:
        pyfunc = load_model(target.load_uri, dst_path=tmpdir, client=client, trust=trust)
        model = LoadedModel(target, pyfunc, InputReader(pyfunc.signature), tmpdir=tmpdir)
        raw = pyfunc.unwrap_python_model()
        needs_names = "sklearn" not in pyfunc.flavors or hasattr(raw, "feature_names_in_")
        if model.reader.fast and needs_names:
            model._frame_names = model.reader.names
        example = model.example_inputs()
        if example is not None:
            model.predict_ms = _time_predict(model, example)
        return model
    except BaseException:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise


def _time_predict(model: LoadedModel, example: Inputs, budget_ms: float = 1000.0) -> float:
    """Milliseconds of one warm predict on the example: the best of up to three runs.

    The first call pays one-off costs (imports, caches, lazy initialisation) and on a
    busy machine a single run can be several times too long; either would make a fast
    model look slow and send every request through a thread. A slow model (over
    ``budget_ms`` in all) is not run again.
    """
    best, spent = math.inf, 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        model.predict(example)
        took = (time.perf_counter() - t0) * 1000
        best, spent = min(best, took), spent + took
        if spent > budget_ms:
            break
    return best


# ---- outputs -------------------------------------------------------------------------


def n_predictions(pred: Any) -> int:
    if isinstance(pred, dict):
        first: Any = next(iter(pred.values()), [])
        return len(first)
    return len(pred) if hasattr(pred, "__len__") else 1


def slice_predictions(pred: Any, start: int, stop: int) -> Any:
    if isinstance(pred, pd.DataFrame):
        return pred.iloc[start:stop]
    if isinstance(pred, dict):
        return {k: v[start:stop] for k, v in pred.items()}
    return pred[start:stop]


def jsonable(pred: Any) -> Any:
    """Predictions as JSON values, the way MLflow's scoring server writes them."""
    if isinstance(pred, np.ndarray):  # the usual answer first
        return pred.tolist()
    if isinstance(pred, pd.DataFrame):
        return pred.to_dict(orient="records")
    if isinstance(pred, (pd.Series, np.ndarray)):
        return pred.tolist()
    if isinstance(pred, dict):
        return {k: jsonable(v) for k, v in pred.items()}
    if isinstance(pred, (list, tuple)):
        return [jsonable(v) if isinstance(v, (np.ndarray, np.generic)) else v for v in pred]
    if isinstance(pred, np.generic):
        return pred.item()
    return pred


def inputs_jsonable(inputs: Inputs, names: list[str]) -> Any:
    """Inputs as stored in the request log: ``{"columns", "data"}`` for tables, lists for tensors."""
    data = inputs.data
    if inputs.kind == "matrix":
        return {"columns": names, "data": data.tolist()}
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, pd.DataFrame):
        clean = data.astype(object).where(data.notna(), None)
        return {"columns": [str(c) for c in data.columns], "data": clean.values.tolist()}
    return jsonable(data)

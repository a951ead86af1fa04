"""Materializers: how a step's output is written to and read from the artifact store.

By type, first match wins:

=================================  =======================  ===================
value                              stored as                kind
=================================  =======================  ===================
JSON-able (None, bool, numbers,    inline in the record     ``json``
str, lists, dicts) up to 64 KB     (else ``output.json``)
numpy array                        ``output.npy``           ``numpy``
pandas / polars DataFrame,         ``output.parquet``       ``pandas`` /
pyarrow Table                                               ``polars`` / ``arrow``
scikit-learn, torch, transformers  an MLmodel directory     ``model``
model                              (model flavors)
anything else                      ``output.pkl`` + warning ``pickle``
=================================  =======================  ===================

A reference (``ref``) is a JSON dict: ``kind``, ``type``, ``hash`` (SHA-256 of the
stored bytes) and either ``value`` (inline) or ``artifact_uri`` + ``path``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

INLINE_LIMIT = 64 * 1024
CODE_KINDS = ("pickle", "model")  # kinds whose loading can run code (a pickle; a model's flavor may unpickle)
OUTPUT_DIR = "outputs"

RepoFor = Callable[[str], Any]  # artifact_uri -> ArtifactRepository


class PickledOutputWarning(UserWarning):
    """A step output had no materializer and was pickled: loading it can run arbitrary code."""


def _type_path(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _kind(value: Any) -> str:
    if type(value) in (type(None), bool, int, str) or _is_json(value):
        return "json"
    module = type(value).__module__.split(".")[0]
    if module == "numpy" and type(value).__name__ == "ndarray":
        return "numpy"
    if module == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        return "pandas"
    if module == "polars" and type(value).__name__ == "DataFrame":
        return "polars"
    if module == "pyarrow" and type(value).__name__ == "Table":
        return "arrow"
    from ..models.flavors import module_startswith

    if module_startswith(value, "sklearn", "torch", "transformers"):
        return "model"
    return "pickle"


# Built once (``json.dumps`` with options builds an encoder per call); same text as
# ``json.dumps(value, sort_keys=True, separators=(",", ":"))``.
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def dumps(value: Any) -> tuple[str, bytes | None, str]:
    """(kind, bytes to store or None for a model directory, file name)."""
    kind = _kind(value)
    if kind == "json":
        return kind, _JSON.encode(value).encode("utf-8"), "output.json"
    if kind == "numpy":
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return kind, buf.getvalue(), "output.npy"
    if kind in ("pandas", "polars", "arrow"):
        return kind, _parquet(value, kind), "output.parquet"
    if kind == "model":
        return kind, None, "model"
    import cloudpickle

    warnings.warn(
        f"Step output of type {_type_path(value)} has no materializer: it is stored with pickle, which "
        "can run arbitrary code when loaded. Return JSON-able values, numpy arrays, DataFrames or models.",
        PickledOutputWarning,
        stacklevel=3,
    )
    return kind, cloudpickle.dumps(value), "output.pkl"


def _parquet(value: Any, kind: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "pandas":
        frame = value.to_frame() if type(value).__name__ == "Series" else value
        table = pa.Table.from_pandas(frame, preserve_index=True)
    elif kind == "polars":
        table = value.to_arrow()
    else:
        table = value
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


_NONE_REF = {"kind": "json", "type": "builtins.NoneType", "value": None, "hash": hashlib.sha256(b"null").hexdigest()}


def save(value: Any, artifact_uri: str, repo_for: RepoFor, name: str = "output") -> dict[str, Any]:
    """Store ``value`` under ``outputs/`` of the run at ``artifact_uri``; its reference."""
    if value is None:  # the most common output of all (a step run for its effect)
        return dict(_NONE_REF)
    kind, data, filename = dumps(value)
    ref: dict[str, Any] = {"kind": kind, "type": _type_path(value)}
    if kind == "json" and data is not None and len(data) <= INLINE_LIMIT:
        ref["value"] = value
        ref["hash"] = hashlib.sha256(data).hexdigest()
        return ref
    path = f"{OUTPUT_DIR}/{filename}" if name == "output" else f"{OUTPUT_DIR}/{name}-{filename}"
    repo = repo_for(artifact_uri)
    if data is None:
        ref["hash"] = _save_model(value, repo, path)
    else:
        repo.put(path, io.BytesIO(data))
        ref["hash"] = hashlib.sha256(data).hexdigest()
    ref["artifact_uri"] = artifact_uri
    ref["path"] = path
    return ref


def _save_model(value: Any, repo: Any, path: str) -> str:
    from ..models import save_model

    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "model")
        save_model(value, target, signature=False)
        h = hashlib.sha256()
        for root, _, files in sorted(os.walk(target)):
            for f in sorted(files):
                full = os.path.join(root, f)
                if f == "MLmodel":
                    continue  # carries a creation time and a uuid
                h.update(os.path.relpath(full, target).encode())
                with open(full, "rb") as fh:
                    h.update(fh.read())
        repo.log_dir(target, path)
    return h.hexdigest()


def load(ref: dict[str, Any], repo_for: RepoFor) -> Any:
    """The value a reference points at."""
    kind = ref["kind"]
    if "value" in ref:
        return ref["value"]
    repo = repo_for(ref["artifact_uri"])
    if kind == "model":
        from ..models import load_model

        with tempfile.TemporaryDirectory() as tmp:
            local = repo.download(ref["path"], tmp)
            return load_model(local).unwrap_python_model()
    data = repo.read_bytes(ref["path"])
    if kind == "json":
        return json.loads(data)
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind in ("pandas", "polars", "arrow"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        if kind == "pandas":
            frame = table.to_pandas()
            if ref.get("type", "").endswith(".Series"):
                return frame.iloc[:, 0]
            return frame
        if kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table
    import cloudpickle

    return cloudpickle.loads(data)

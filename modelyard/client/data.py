"""Datasets to log as run inputs: ``my.data.from_pandas(df, name=..., targets=...)``."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from ..entities import Dataset as DatasetEntity

_NUMPY_TYPES = {
    "b": "boolean", "i": "long", "u": "long", "f": "double", "O": "string", "U": "string", "S": "binary",
    "M": "datetime",
}


@dataclass
class Dataset:
    """A dataset with a content digest, a schema and a profile, as MLflow records them."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: dict[str, Any]
    profile: dict[str, Any]
    targets: str | None = None
    predictions: str | None = None
    df: Any = field(default=None, repr=False)

    def to_entity(self) -> DatasetEntity:
        return DatasetEntity(
            name=self.name,
            digest=self.digest,
            source_type=self.source_type,
            source=self.source,
            schema=json.dumps(self.schema),
            profile=json.dumps(self.profile),
        )


def _source(source: str | None) -> tuple[str, str]:
    if source is None:
        tags = {"mlflow.source.name": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "<console>",
                "mlflow.source.type": "LOCAL"}
        return "code", json.dumps({"tags": tags})
    kind = "http" if source.startswith(("http://", "https://")) else "s3" if source.startswith("s3://") else "local"
    key = "url" if kind == "http" else "uri"
    return kind, json.dumps({key: source})


def from_pandas(
    df: Any,
    source: str | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> Dataset:
    """Describe a pandas DataFrame: digest of its content (first 10,000 rows), schema, profile."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_pandas expects a pandas DataFrame, got {type(df).__name__}")
    for col, role in ((targets, "targets"), (predictions, "predictions")):
        if col is not None and col not in df.columns:
            raise ValueError(f"{role} column {col!r} is not in the DataFrame (columns: {list(df.columns)[:20]}).")
    if digest is None:
        h = hashlib.md5(usedforsecurity=False)
        h.update(pd.util.hash_pandas_object(df.head(10_000), index=False).values.tobytes())
        h.update(str(df.shape).encode())
        digest = h.hexdigest()[:8]
    colspec = [
        {"type": _NUMPY_TYPES.get(dtype.kind, "string"), "name": str(col), "required": not bool(df[col].isna().any())}
        for col, dtype in df.dtypes.items()
    ]
    source_type, source_json = _source(source)
    return Dataset(
        name=name or "dataset",
        digest=digest,
        source_type=source_type,
        source=source_json,
        schema={"mlflow_colspec": colspec},
        profile={"num_rows": int(df.shape[0]), "num_elements": int(df.size)},
        targets=targets,
        predictions=predictions,
        df=df,
    )


def from_numpy(
    features: Any, source: str | None = None, targets: Any = None, name: str | None = None, digest: str | None = None
) -> Dataset:
    """Describe numpy arrays of features (and optional targets)."""
    import numpy as np

    features = np.asarray(features)
    if digest is None:
        h = hashlib.md5(usedforsecurity=False)
        h.update(np.ascontiguousarray(features[:10_000]).tobytes())
        if targets is not None:
            h.update(np.ascontiguousarray(np.asarray(targets)[:10_000]).tobytes())
        digest = h.hexdigest()[:8]
    schema: dict[str, Any] = {
        "mlflow_tensorspec": {
            "features": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": str(features.dtype), "shape": [-1, *features.shape[1:]]}}]),
        }
    }
    source_type, source_json = _source(source)
    profile: dict[str, Any] = {"features_shape": list(features.shape), "features_size": int(features.size)}
    if targets is not None:
        t = np.asarray(targets)
        profile.update({"targets_shape": list(t.shape), "targets_size": int(t.size)})
    return Dataset(name or "dataset", digest, source_type, source_json, schema, profile)

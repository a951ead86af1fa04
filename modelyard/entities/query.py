"""A parsed search, as plain values shared by the service (parser) and the store (SQL).

The service turns MLflow's search grammar (``metrics.acc > 0.9 AND
params.lr = '0.01'``) into a list of :class:`Comparison`; the store turns that
list into SQL. Nothing here knows about text or SQL.

Normal forms:

- ``kind`` is one of :data:`KINDS` (experiments use only ``attribute`` and ``tag``).
- ``key`` is unquoted and alias-free: ``created`` is ``start_time``,
  ``run name`` is ``run_name``.
- ``op`` is upper case, one of :data:`OPS`.
- ``value`` is a ``float`` for metrics, an ``int`` (or ``float`` if written
  with a fraction or an exponent) for numeric attributes, a ``str`` for
  strings, a ``tuple`` of ``str`` (``int`` for ``experiment_id``) for ``IN``
  and ``NOT IN``, and ``None`` for ``IS NULL`` and ``IS NOT NULL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

METRIC = "metric"
PARAM = "param"
TAG = "tag"
ATTRIBUTE = "attribute"
DATASET = "dataset"
KINDS = (METRIC, PARAM, TAG, ATTRIBUTE, DATASET)

EQ, NE, LT, LE, GT, GE = "=", "!=", "<", "<=", ">", ">="
LIKE, ILIKE = "LIKE", "ILIKE"
IN, NOT_IN = "IN", "NOT IN"
IS_NULL, IS_NOT_NULL = "IS NULL", "IS NOT NULL"
OPS = (EQ, NE, LT, LE, GT, GE, LIKE, ILIKE, IN, NOT_IN, IS_NULL, IS_NOT_NULL)

# Run attributes a filter may name (after alias translation).
RUN_STRING_ATTRIBUTES = ("artifact_uri", "run_id", "run_name", "status", "user_id")
RUN_NUMERIC_ATTRIBUTES = ("end_time", "start_time")
# Dataset fields; ``context`` is the input tag ``mlflow.data.context``.
DATASET_KEYS = ("context", "digest", "name")
DATASET_CONTEXT_TAG = "mlflow.data.context"

EXPERIMENT_STRING_ATTRIBUTES = ("name",)
EXPERIMENT_NUMERIC_ATTRIBUTES = ("creation_time", "last_update_time")
EXPERIMENT_ID = "experiment_id"

Value = Union[float, int, str, tuple[Union[str, int], ...], None]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``<kind>.<key> <op> <value>`` clause of a search filter."""

    kind: str
    key: str
    op: str
    value: Value = None


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` entry: ``metrics.m0 DESC`` is ``OrderKey("metric", "m0", False)``."""

    kind: str
    key: str
    ascending: bool = True

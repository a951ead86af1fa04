"""User numbers made plain before they leave the SDK, as MLflow's client makes them.

Training code logs numpy scalars (``np.float32``, ``np.int64``), floats that are
``float`` subclasses (``np.float64``) and one-element tensors or arrays. MLflow's
client turns a metric value into ``float`` (``.item()`` first for a tensor or an
array) and sends a step or timestamp through protobuf, which takes any integer
(``__index__``) but no float and no bool. We do the same here, once, so that both
transports (and the service behind them, which only ever sees JSON types) get
``float`` and ``int``. Params and tags are ``str(value)``, done by the callers.

What MLflow accepts is accepted (bools and ``Decimal`` as values, integral
tensors as steps, and strings and bytes that ``float()`` reads: "0.5", " 1e-3\n",
"1_000", "nan", "-Infinity", b"0.5"); what it refuses is refused, with a message
naming the field (MLflow 3.17 lets ``float()``'s ValueError pass for a string
like "high" and then fails with protobuf's TypeError "must be real number, not str").
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..entities import Metric
from ..errors import InvalidParameterValue
from ..service.limits import invalid_value

_NUMBER = ("must be a number: a float, an int, a one-element numpy/torch value or a string that float() reads"
           " (64-bit float).")
_LONG = "must be an integer (64-bit): an int or a numpy/torch integer, not a float or a bool."


def metric_value(value: Any, key: Any, path: str = "value") -> float:
    """``value`` as a ``float``; refused (InvalidParameterValue) when it is no number."""
    if type(value) is float:
        return value
    if value is None:
        raise InvalidParameterValue(invalid_value(path, value, f"metric '{key}' {_NUMBER}"))
    try:
        if hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()  # a tensor or an array: one element, as MLflow requires
        return float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:  # RuntimeError: torch
        shown = value if isinstance(value, str) else str(value)
        raise InvalidParameterValue(
            invalid_value(path, shown, f"metric '{key}' {_NUMBER} ({type(exc).__name__}: {exc})")
        ) from None


def metric_integer(value: Any, key: Any, path: str) -> int:
    """A step or timestamp as an ``int``; refused when it is not an integer."""
    if type(value) is int:
        return value
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    shown = value if isinstance(value, (bool, str)) else str(value)
    raise InvalidParameterValue(invalid_value(path, shown, f"the {path.rsplit('.', 1)[-1]} of metric '{key}' {_LONG}"))


def plain_metrics(metrics: Sequence[Metric]) -> list[Metric]:
    """``metrics`` as a new list whose points hold ``float`` values and ``int`` steps and timestamps.

    Points already plain (nearly always all of them) are kept as they are; the
    caller's ``Metric`` objects are never changed.
    """
    points = list(metrics)
    for i, m in enumerate(points):
        if type(m.value) is not float or type(m.step) is not int or type(m.timestamp) is not int:
            points[i] = plain_metric(m, f"metrics[{i}].")
    return points


def plain_metric(m: Metric, prefix: str = "") -> Metric:
    """A copy of ``m`` with a ``float`` value and ``int`` step and timestamp (``prefix``: where it sits)."""
    return replace(
        m,
        value=metric_value(m.value, m.key, f"{prefix}value"),
        timestamp=metric_integer(m.timestamp, m.key, f"{prefix}timestamp"),
        step=metric_integer(m.step, m.key, f"{prefix}step"),
    )

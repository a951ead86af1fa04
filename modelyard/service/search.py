"""Run and experiment search: which keys, operators and values ``search_runs`` and ``search_experiments`` accept.

The syntax (``metrics.acc > 0.9 AND params.lr = '0.01'``) and page tokens are
the shared toolkit of ``service/grammar.py``; this module holds the rules per
entity, following ``mlflow.utils.search_utils`` and the SQL store of MLflow
3.17.2. Runs know the prefixes ``metrics.``, ``params.``, ``tags.``,
``attributes.`` and ``datasets.`` (singular forms too); experiments know
``attribute.`` and ``tags.``.

``encode_page_token`` and ``decode_page_token`` are re-exported from
``service/grammar.py``, where they live.
"""

from __future__ import annotations

from ..entities.query import (
    ATTRIBUTE,
    DATASET,
    DATASET_KEYS,
    EXPERIMENT_ID,
    EXPERIMENT_NUMERIC_ATTRIBUTES,
    EXPERIMENT_STRING_ATTRIBUTES,
    IN,
    METRIC,
    NOT_IN,
    PARAM,
    RUN_NUMERIC_ATTRIBUTES,
    RUN_STRING_ATTRIBUTES,
    TAG,
    Comparison,
    OrderKey,
)
from ..errors import InvalidParameterValue
from .grammar import (
    INTEGER,
    KEY_VALUE_OPS,
    KIND_WORD,
    NUMERIC_OPS,
    STRING_OPS,
    Prefixes,
    Raw,
    bad_comparator,
    decode_page_token,
    encode_page_token,
    list_or_string,
    number,
    order_clause,
    split_clauses,
    string_value,
)

__all__ = [
    "decode_page_token", "encode_page_token", "parse_experiment_filter",
    "parse_experiment_order_by", "parse_run_filter", "parse_run_order_by",
]

_RUN_PREFIXES = Prefixes({
    "metric": METRIC, "metrics": METRIC,
    "parameter": PARAM, "parameters": PARAM, "param": PARAM, "params": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE, "run": ATTRIBUTE,
    "dataset": DATASET, "datasets": DATASET,
}, listing="['metric', 'parameter', 'tag', 'attribute', 'dataset'] "
           "(or metrics., params., tags., attributes., datasets.)")
_EXPERIMENT_PREFIXES = Prefixes({"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG},
                                listing="('attribute', 'tag', 'tags')")
_RUN_ALIASES = {"created": "start_time", "Created": "start_time",
                "run name": "run_name", "Run name": "run_name", "Run Name": "run_name"}
_RUN_FILTER_ATTRIBUTES = frozenset(RUN_STRING_ATTRIBUTES + RUN_NUMERIC_ATTRIBUTES) | _RUN_ALIASES.keys()
_RUN_ORDER_ATTRIBUTES = frozenset(RUN_STRING_ATTRIBUTES + RUN_NUMERIC_ATTRIBUTES + ("created", "Created"))
_EXPERIMENT_ATTRIBUTES = frozenset(EXPERIMENT_STRING_ATTRIBUTES + EXPERIMENT_NUMERIC_ATTRIBUTES + (EXPERIMENT_ID,))


def _run_comparison(kind: str, key: str, op: str, raw: Raw | None) -> Comparison:
    if kind == ATTRIBUTE and key not in _RUN_FILTER_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_RUN_FILTER_ATTRIBUTES)}")
    if kind == DATASET and key not in DATASET_KEYS:
        raise InvalidParameterValue(
            f"Invalid dataset key '{key}' specified. Valid keys are {list(DATASET_KEYS)}")
    key = _RUN_ALIASES.get(key, key) if kind == ATTRIBUTE else key
    if raw is None:
        if kind not in (PARAM, TAG):
            raise InvalidParameterValue(
                "IS NULL / IS NOT NULL is only supported for tags and params, "
                f"not for '{KIND_WORD[kind]}' '{key}'")
        return Comparison(kind, key, op, None)
    value: float | int | str | tuple[str, ...]
    if kind == METRIC:
        value, allowed = float(number(raw, "Expected numeric value type for metric")), NUMERIC_OPS
    elif kind in (PARAM, TAG):
        value, allowed = string_value(kind, raw), KEY_VALUE_OPS
    elif kind == DATASET:
        value, allowed = list_or_string(kind, key, op, raw, DATASET_KEYS, "dataset keys"), STRING_OPS
    elif key in RUN_NUMERIC_ATTRIBUTES:
        text = number(raw, f"Expected numeric value type for numeric attribute: {key}")
        value, allowed = (int(text) if INTEGER.fullmatch(text) else float(text)), NUMERIC_OPS
    else:
        value, allowed = list_or_string(kind, key, op, raw, ("run_id",), "attributes"), STRING_OPS
    if op not in allowed:
        raise bad_comparator(op, allowed, f"{KIND_WORD[kind]} '{key}'")
    return Comparison(kind, key, op, value)


def _experiment_comparison(kind: str, key: str, op: str, raw: Raw | None) -> Comparison:
    if kind == ATTRIBUTE and key not in _EXPERIMENT_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_EXPERIMENT_ATTRIBUTES)}")
    if raw is None:
        if kind != TAG:
            raise InvalidParameterValue(
                f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'")
        return Comparison(kind, key, op, None)
    value: int | str | tuple[int, ...]
    allowed: tuple[str, ...]
    if kind == TAG:
        value, allowed = string_value(kind, raw), KEY_VALUE_OPS
    elif key in EXPERIMENT_NUMERIC_ATTRIBUTES:
        text = number(raw, f"Expected numeric value type for numeric attribute: {key}")
        if not INTEGER.fullmatch(text):
            raise InvalidParameterValue(
                f"Invalid value for numeric attribute '{key}': {text!r}. Use an integer (milliseconds).")
        value, allowed = int(text), NUMERIC_OPS
    elif key == EXPERIMENT_ID:
        ids = list_or_string(kind, key, op, raw, (EXPERIMENT_ID,), "attributes")
        value = tuple(_experiment_id(i) for i in ids) if isinstance(ids, tuple) else _experiment_id(ids)
        allowed = ("=", "!=", IN, NOT_IN)
    else:
        value = list_or_string(kind, key, op, raw, (EXPERIMENT_ID,), "attributes")  # type: ignore[assignment]
        allowed = ("=", "!=", "LIKE", "ILIKE")
    if op not in allowed:
        raise bad_comparator(op, allowed, f"{KIND_WORD[kind]} '{key}'")
    return Comparison(kind, key, op, value)


def _experiment_id(text: str) -> int:
    if not INTEGER.fullmatch(text.strip()):
        raise InvalidParameterValue(f"Invalid experiment ID '{text}'. Experiment ID must be a valid integer.")
    return int(text)


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_runs`` filter; ``None`` or blank means no filter.

    >>> parse_run_filter("metrics.acc > 0.9 and params.lr = '0.01'")
    [Comparison(kind='metric', key='acc', op='>', value=0.9), Comparison(kind='param', key='lr', op='=', value='0.01')]
    """
    if not filter_string or not filter_string.strip():
        return []
    return [_run_comparison(*clause) for clause in split_clauses(filter_string, _RUN_PREFIXES)]


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_experiments`` filter (``name``, ``experiment_id``, times, ``tags.*``)."""
    if not filter_string or not filter_string.strip():
        return []
    return [_experiment_comparison(*clause) for clause in split_clauses(filter_string, _EXPERIMENT_PREFIXES)]


def parse_run_order_by(order_by: list[str] | None) -> list[OrderKey]:
    """Parse ``search_runs`` ``order_by`` entries such as ``"metrics.m0 DESC"`` (default ASC)."""
    keys: list[OrderKey] = []
    for clause in order_by or []:
        kind, key, ascending = order_clause(clause, _RUN_PREFIXES)
        if kind == ATTRIBUTE:
            if key not in _RUN_ORDER_ATTRIBUTES:
                raise InvalidParameterValue(
                    f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_RUN_ORDER_ATTRIBUTES)}")
            key = _RUN_ALIASES.get(key, key)
        elif kind == DATASET:
            raise InvalidParameterValue(
                f"Invalid identifier type 'dataset' in order_by clause '{clause}': runs can be ordered "
                "by metrics., params., tags. or attributes. only.")
        if any(k.kind == kind and k.key == key for k in keys):
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {order_by}")
        keys.append(OrderKey(kind, key, ascending))
    return keys


def parse_experiment_order_by(order_by: list[str] | None) -> list[OrderKey]:
    """Parse ``search_experiments`` ``order_by`` (attributes only); empty means the default order."""
    keys: list[OrderKey] = []
    for clause in order_by or []:
        kind, key, ascending = order_clause(clause, _EXPERIMENT_PREFIXES)
        if kind != ATTRIBUTE:
            raise InvalidParameterValue(
                f"Invalid order_by entity: {kind}. Experiments can be ordered by "
                f"{', '.join(sorted(_EXPERIMENT_ATTRIBUTES))} only.")
        if key not in _EXPERIMENT_ATTRIBUTES:
            raise InvalidParameterValue(
                f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_EXPERIMENT_ATTRIBUTES)}")
        keys.append(OrderKey(kind, key, ascending))
    return keys

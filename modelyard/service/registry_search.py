"""MLflow's search grammar for the registry: registered model and model version filters.

The shared scanner of ``service/grammar.py``, as for run search, with the
registry's keys, as ``mlflow.utils.search_utils`` (``SearchModelUtils``,
``SearchModelVersionUtils``) and the registry SQL store of MLflow 3.17.2
accept them::

    name LIKE 'fraud-%' AND tags.team = 'risk'                      (registered models)
    name = 'fraud' AND run_id IN ('a1', 'b2') AND version_number > 2  (model versions)

Keys are a bare attribute or ``attribute.<key>``; tags are ``tags.<key>``
(or ``tag.``). Registered models filter on ``name``; versions on ``name``,
``run_id``, ``source_path`` and ``version_number``.
"""

from __future__ import annotations

from ..entities.query import ATTRIBUTE, IN, NOT_IN, TAG, Comparison, OrderKey
from ..errors import InvalidParameterValue
from .grammar import (
    INTEGER,
    NUMERIC_OPS,
    STRING_OPS,
    Prefixes,
    Raw,
    bad_comparator,
    order_clause,
    split_clauses,
    string_list,
    string_value,
)

__all__ = [
    "parse_model_version_filter", "parse_model_version_order_by",
    "parse_registered_model_filter", "parse_registered_model_order_by",
]

# The registry knows the same entity types as experiments: attribute, tag, tags.
_PREFIXES = Prefixes({"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG}, listing="('attribute', 'tag', 'tags')")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE")
MODEL_FILTER_KEYS = ("name",)
VERSION_FILTER_KEYS = ("name", "run_id", "source_path", "version_number")
MODEL_ORDER_KEYS = ("creation_timestamp", "last_updated_timestamp", "name", "timestamp")
VERSION_ORDER_KEYS = ("creation_timestamp", "last_updated_timestamp", "name", "version_number")
_LIST_KEYS = ("name", "run_id")


def _tag(key: str, op: str, raw: Raw | None) -> Comparison:
    if raw is None or op not in _TAG_OPS:
        raise bad_comparator(op, _TAG_OPS, f"tag '{key}'")
    return Comparison(TAG, key, op, string_value(TAG, raw))


def _string_attribute(key: str, op: str, raw: Raw | None, ops: tuple[str, ...]) -> Comparison:
    if raw is None or op not in ops:
        raise bad_comparator(op, ops, f"attribute '{key}'")
    if raw.kind == "list" or op in (IN, NOT_IN):
        if key not in _LIST_KEYS:
            raise InvalidParameterValue(
                f"Only {list(_LIST_KEYS)} attributes support comparison with a list of quoted string values.")
        if raw.kind != "list" or op not in (IN, NOT_IN):
            raise InvalidParameterValue(
                f"A list of values can only be compared with IN or NOT IN: write {key} IN ('a', 'b').")
        return Comparison(ATTRIBUTE, key, op, string_list(raw))
    return Comparison(ATTRIBUTE, key, op, string_value(ATTRIBUTE, raw))


def _version_number(op: str, raw: Raw | None) -> Comparison:
    if raw is None or op not in NUMERIC_OPS:
        raise bad_comparator(op, NUMERIC_OPS, "attribute 'version_number'")
    text = raw.text.strip() if raw.kind in ("number", "string") else None
    if text is None or not INTEGER.fullmatch(text):
        raise InvalidParameterValue(f"Invalid value for numeric attribute 'version_number': {raw.text!r}")
    return Comparison(ATTRIBUTE, "version_number", op, int(text))


def _check_attribute(key: str, valid: tuple[str, ...]) -> None:
    if key not in valid:
        raise InvalidParameterValue(f"Invalid attribute key '{key}' specified. Valid keys are '{set(valid)}'")


def parse_registered_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_registered_models`` filter; ``None`` or blank means none."""
    if not filter_string or not filter_string.strip():
        return []
    out = []
    for kind, key, op, raw in split_clauses(filter_string, _PREFIXES):
        if kind == TAG:
            out.append(_tag(key, op, raw))
        else:
            _check_attribute(key, MODEL_FILTER_KEYS)
            out.append(_string_attribute(key, op, raw, STRING_OPS))
    return out


def parse_model_version_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_model_versions`` filter; ``None`` or blank means none."""
    if not filter_string or not filter_string.strip():
        return []
    out = []
    for kind, key, op, raw in split_clauses(filter_string, _PREFIXES):
        if kind == TAG:
            out.append(_tag(key, op, raw))
            continue
        _check_attribute(key, VERSION_FILTER_KEYS)
        if key == "version_number":
            out.append(_version_number(op, raw))
        else:
            out.append(_string_attribute(key, op, raw, STRING_OPS if key in _LIST_KEYS else _TAG_OPS))
    return out


def _parse_order_by(order_by: list[str] | None, valid: tuple[str, ...]) -> list[OrderKey]:
    keys: list[OrderKey] = []
    for clause in order_by or []:
        kind, key, ascending = order_clause(clause, _PREFIXES)
        if kind != ATTRIBUTE or key not in valid:
            raise InvalidParameterValue(
                f"Invalid order by key '{key}' specified. Valid keys are {sorted(valid)}")
        if key == "timestamp":
            key = "last_updated_timestamp"
        if any(k.key == key for k in keys):
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {order_by}")
        keys.append(OrderKey(ATTRIBUTE, key, ascending))
    return keys


def parse_registered_model_order_by(order_by: list[str] | None) -> list[OrderKey]:
    """``name``, ``creation_timestamp``, ``last_updated_timestamp`` (or ``timestamp``), each ASC or DESC."""
    return _parse_order_by(order_by, MODEL_ORDER_KEYS)


def parse_model_version_order_by(order_by: list[str] | None) -> list[OrderKey]:
    """``name``, ``version_number``, ``creation_timestamp``, ``last_updated_timestamp``, each ASC or DESC."""
    return _parse_order_by(order_by, VERSION_ORDER_KEYS)

"""MLflow's search grammar for logged models: filter, ``datasets``, ``order_by`` and page tokens.

A filter is comparisons joined by ``AND``, as for runs::

    name = 'model' AND metrics.acc > 0.9 AND params.lr = '0.01' AND tags.team IN ('a', 'b')

Bare names are model attributes: ``name``, ``model_id``, ``model_type``,
``status``, ``source_run_id`` (strings: ``=``, ``!=``, ``LIKE``, ``ILIKE``,
``IN``, ``NOT IN``) and ``creation_timestamp_ms`` / ``last_updated_timestamp_ms``
(aliases ``creation_time``, ``creation_timestamp``, ``last_updated_timestamp``;
numeric comparisons). ``metrics.*`` compare numbers, ``params.*`` and ``tags.*``
strings. A status may be written ``'READY'`` or ``'LOGGED_MODEL_READY'``.

The tokenizer is the shared one of ``service/grammar.py``, as for runs; only
the rules per entity differ, following ``mlflow.utils.search_logged_model_utils``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..entities.logged_models import LoggedModelStatus
from ..entities.query import (
    ATTRIBUTE,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    METRIC,
    NOT_IN,
    PARAM,
    TAG,
    Comparison,
)
from ..errors import InvalidParameterValue
from ..store.logged_models_search import DatasetRef, ModelOrder
from .grammar import (
    INTEGER,
    NUMERIC_OPS,
    STRING_OPS,
    Prefixes,
    Raw,
    bad_comparator,
    number,
    split_clauses,
    string_list,
    string_value,
)

__all__ = ["PageToken", "parse_datasets", "parse_model_filter", "parse_model_order_by"]

_PREFIXES = Prefixes({
    "metric": METRIC, "metrics": METRIC,
    "param": PARAM, "params": PARAM, "parameter": PARAM, "parameters": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE,
}, listing="attributes, metrics, params, tags")
ALIASES = {
    "creation_time": "creation_timestamp_ms",
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
NUMERIC_ATTRIBUTES = ("creation_timestamp_ms", "last_updated_timestamp_ms")
STRING_ATTRIBUTES = ("model_id", "model_type", "name", "source_run_id", "status")
_ATTRIBUTES = sorted(NUMERIC_ATTRIBUTES + STRING_ATTRIBUTES + tuple(ALIASES))
_WORD = {METRIC: "metric", PARAM: "param", TAG: "tag", ATTRIBUTE: "attribute"}


def _attribute(key: str) -> str:
    key = ALIASES.get(key, key)
    if key not in NUMERIC_ATTRIBUTES + STRING_ATTRIBUTES:
        raise InvalidParameterValue(f"Invalid attribute key '{key}' specified. Valid keys are {_ATTRIBUTES}")
    return key


def _comparison(kind: str, key: str, op: str, raw: Raw | None) -> Comparison:
    if kind == ATTRIBUTE:
        key = _attribute(key)
    if raw is None or op in (IS_NULL, IS_NOT_NULL):
        raise InvalidParameterValue(
            f"{op} is not supported in logged model searches ({_WORD[kind]} '{key}'). "
            "Compare with =, !=, LIKE, ILIKE, IN or NOT IN instead.")
    numeric = kind == METRIC or key in NUMERIC_ATTRIBUTES
    allowed = NUMERIC_OPS if numeric else STRING_OPS
    if op not in allowed:
        raise bad_comparator(op, allowed, f"{_WORD[kind]} '{key}'")
    value: Any
    if numeric:
        text = number(raw, f"Expected a numeric value for {_WORD[kind]} '{key}'")
        value = float(text) if kind == METRIC or not INTEGER.fullmatch(text) else int(text)
    elif op in (IN, NOT_IN):
        if raw.kind != "list":
            raise InvalidParameterValue(f"{op} takes a parenthesized list of quoted strings, e.g. name IN ('a', 'b').")
        value = string_list(raw)
    elif raw.kind == "list":
        raise InvalidParameterValue(f"A list of values can only be compared with IN or NOT IN, not '{op}'.")
    else:
        value = string_value(kind, raw)
    if kind == ATTRIBUTE and key == "status" and op not in ("LIKE", "ILIKE"):
        value = tuple(LoggedModelStatus.parse(v) for v in value) if isinstance(value, tuple) \
            else LoggedModelStatus.parse(value)
    return Comparison(kind, key, op, value)


def parse_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_logged_models`` filter; ``None`` or blank means no filter.

    >>> parse_model_filter("name = 'model' AND metrics.acc > 0.9")
    [Comparison(kind='attribute', key='name', op='=', value='model'), Comparison(kind='metric', key='acc', op='>', value=0.9)]
    """
    if not filter_string or not filter_string.strip():
        return []
    try:
        clauses = split_clauses(filter_string, _PREFIXES)
    except InvalidParameterValue as exc:
        if exc.message.startswith("Invalid entity type"):
            entity = exc.message.split("'")[1]
            raise InvalidParameterValue(
                f"Invalid entity type '{entity}'. Expected one of attributes, metrics, params, tags.") from None
        raise
    return [_comparison(*clause) for clause in clauses]


def parse_datasets(datasets: list[dict[str, Any]] | None) -> list[DatasetRef]:
    out = []
    for i, d in enumerate(datasets or []):
        if not d.get("dataset_name"):
            raise InvalidParameterValue(
                f"`dataset_name` in the `datasets` clause must be specified (datasets[{i}]).")
        out.append(DatasetRef(d["dataset_name"], d.get("dataset_digest") or None))
    return out


def parse_model_order_by(order_by: list[dict[str, Any]] | None) -> list[ModelOrder]:
    """``[{"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"}]`` → ModelOrder keys."""
    keys: list[ModelOrder] = []
    for i, ob in enumerate(order_by or []):
        field = ob.get("field_name")
        if not field or not isinstance(field, str):
            raise InvalidParameterValue(f"order_by[{i}].field_name is required, e.g. 'metrics.accuracy' or 'name'.")
        ascending = ob.get("ascending")
        ascending = True if ascending is None else bool(ascending)
        dataset_name, dataset_digest = ob.get("dataset_name") or None, ob.get("dataset_digest") or None
        if dataset_digest and not dataset_name:
            raise InvalidParameterValue(
                f"order_by[{i}]: dataset_digest may only be set together with dataset_name.")
        if "." in field:
            entity, key = field.split(".", 1)
            if _PREFIXES.get(entity) != METRIC:
                raise InvalidParameterValue(
                    f"Invalid order by field name: {field}. Only metrics (metrics.<key>) and attributes "
                    f"({', '.join(_ATTRIBUTES)}) are supported.")
            dataset = DatasetRef(dataset_name, dataset_digest) if dataset_name else None
            keys.append(ModelOrder(METRIC, key.strip("`"), ascending, dataset))
            continue
        if dataset_name:
            raise InvalidParameterValue(f"order_by[{i}]: dataset_name may only be set when ordering by a metric.")
        name = ALIASES.get(field, field)
        if name not in NUMERIC_ATTRIBUTES + STRING_ATTRIBUTES:
            raise InvalidParameterValue(f"Invalid order by field name: {field}. Valid attributes are {_ATTRIBUTES}.")
        keys.append(ModelOrder(ATTRIBUTE, name, ascending))
    return keys


class PageToken:
    """MLflow's logged-model page token: the offset plus the search it belongs to, base64 JSON."""

    @staticmethod
    def encode(offset: int, experiment_ids: list[str], filter_string: str | None,
               order_by: list[dict[str, Any]] | None) -> str:
        body = {"offset": offset, "experiment_ids": experiment_ids, "filter_string": filter_string,
                "order_by": order_by}
        return base64.b64encode(json.dumps(body).encode("utf-8")).decode("ascii")

    @staticmethod
    def decode(token: str | None, experiment_ids: list[str], filter_string: str | None,
               order_by: list[dict[str, Any]] | None) -> int:
        """The offset of ``token``, checked against the search it is used with; 0 for no token."""
        if not token:
            return 0
        hint = "Pass the next_page_token of the previous response unchanged, with the same search."
        try:
            parsed = json.loads(base64.b64decode(token, validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise InvalidParameterValue(f"Invalid page token {token!r}. {hint}") from None
        offset = parsed.get("offset") if isinstance(parsed, dict) else None
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidParameterValue(f"Invalid page token {token!r}. {hint}")
        for name, value in (("experiment_ids", experiment_ids), ("filter_string", filter_string),
                            ("order_by", order_by)):
            if parsed.get(name) != value:
                raise InvalidParameterValue(
                    f"The page token belongs to another search: its {name} was {parsed.get(name)!r}, "
                    f"this request's is {value!r}. {hint}")
        return offset

"""MLflow's search grammar: filter strings, ``order_by`` lists and page tokens.

A filter is comparisons joined by ``AND`` (MLflow 3.17 has no ``OR``, ``NOT``
or parentheses)::

    metrics.acc > 0.9 AND params.`learning rate` = '0.01' AND attributes.run_id IN ('a', 'b')

The left side is ``<prefix>.<key>`` or a bare run attribute. Keys made of
letters, digits, ``_`` and ``.`` need no quotes (``tags.mlflow.runName``);
others go in backticks or double quotes. Values are numbers, strings in
single or double quotes (kept verbatim between the quotes, as MLflow does:
no escape is decoded) or, after ``IN`` / ``NOT IN``, a parenthesized list of
strings. Which operators and values each prefix accepts follows
``mlflow.utils.search_utils`` and the SQL store of MLflow 3.17.2; where MLflow
silently accepts nonsense (a missing ``AND``, a dangling ``AND``, ``= (list)``)
we reject it with a message that says how to fix it.

Every value ends up a bound SQL parameter; text that does not fit the grammar
(``params.p = 'a'; DROP TABLE runs``) is rejected before any SQL is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import NoReturn

from ..errors import InvalidParameterValue
from ..query import (
    ATTRIBUTE, DATASET, DATASET_KEYS, EXPERIMENT_ID, EXPERIMENT_NUMERIC_ATTRIBUTES,
    EXPERIMENT_STRING_ATTRIBUTES, IN, IS_NOT_NULL, IS_NULL, METRIC, NOT_IN, PARAM,
    RUN_NUMERIC_ATTRIBUTES, RUN_STRING_ATTRIBUTES, TAG, Comparison, OrderKey,
)

__all__ = [
    "decode_page_token", "encode_page_token", "parse_experiment_filter",
    "parse_experiment_order_by", "parse_run_filter", "parse_run_order_by",
]

_RUN_PREFIXES = {
    "metric": METRIC, "metrics": METRIC,
    "parameter": PARAM, "parameters": PARAM, "param": PARAM, "params": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE, "run": ATTRIBUTE,
    "dataset": DATASET, "datasets": DATASET,
}
_EXPERIMENT_PREFIXES = {"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG}
_KIND_WORD = {METRIC: "metric", PARAM: "parameter", TAG: "tag", ATTRIBUTE: "attribute", DATASET: "dataset"}

_RUN_ALIASES = {"created": "start_time", "Created": "start_time",
                "run name": "run_name", "Run name": "run_name", "Run Name": "run_name"}
_RUN_FILTER_ATTRIBUTES = frozenset(RUN_STRING_ATTRIBUTES + RUN_NUMERIC_ATTRIBUTES) | _RUN_ALIASES.keys()
_RUN_ORDER_ATTRIBUTES = frozenset(RUN_STRING_ATTRIBUTES + RUN_NUMERIC_ATTRIBUTES + ("created", "Created"))
_EXPERIMENT_ATTRIBUTES = frozenset(EXPERIMENT_STRING_ATTRIBUTES + EXPERIMENT_NUMERIC_ATTRIBUTES + (EXPERIMENT_ID,))

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_KEY_VALUE_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_WS = re.compile(r"\s*")
_NAME = re.compile(r"[^\W\d]\w*")
_KEY_CHAIN = re.compile(r"\w+(?:\.\w+)*")
# Quoted text as sqlparse (and so MLflow) delimits it: a doubled or backslashed
# quote does not end the string, and the content is kept verbatim.
_QUOTED = {"'": re.compile(r"'(?:''|\\'|[^'])*'"), '"': re.compile(r'"(?:""|\\"|[^"])*"'),
           "`": re.compile(r"`(?:``|[^`])*`")}
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_INTEGER = re.compile(r"-?\d+")
_WORD = re.compile(r"""[^\s()',;"`]+""")
_OPERATOR = re.compile(r"==|!=|<>|<=|>=|=|<|>|(?i:NOT\s+IN|IS\s+NOT\s+NULL|IS\s+NULL|ILIKE|LIKE|IN)(?!\w)")
_KEYWORD = re.compile(r"(?i:AND|OR|NOT|ASC|DESC)(?!\w)")
_KEY_HINT = "Quote keys holding other characters than letters, digits, '_' and '.' with backticks: metrics.`val-loss`."
_OPS_HINT = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"


class _Raw:
    """A value as written: ``kind`` is string, number, word or list."""

    __slots__ = ("kind", "text", "items")

    def __init__(self, kind: str, text: str, items: tuple[_Raw, ...] = ()) -> None:
        self.kind, self.text, self.items = kind, text, items


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, pattern: re.Pattern[str]) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def rest(self) -> str:
        return self.text[self.pos:] or "end of input"

    def quoted(self) -> str:
        """Read a quoted run of text; return what is between the quotes."""
        token = self.take(_QUOTED[self.peek()])
        if token is None:
            raise InvalidParameterValue(
                f"Invalid filter {self.text!r}: the quote at position {self.pos} is never closed. "
                "Close every string with the quote that opened it.")
        return token[1:-1]

    def identifier(self, prefixes: Mapping[str, str], *, context: str) -> tuple[str, str]:
        """Read ``prefix.key`` or a bare attribute; return (kind, key)."""
        start = self.pos
        if self.peek() in ('`', '"'):
            first = self.quoted()
        else:
            name = self.take(_NAME)
            if name is None:
                raise InvalidParameterValue(
                    f"Invalid {context}: expected a key such as metrics.acc, params.lr or tags.`my key` "
                    f"at position {start}, found {self.rest()!r}.")
            first = name
        if self.peek() != ".":
            return ATTRIBUTE, first
        self.pos += 1
        if first not in prefixes:
            raise InvalidParameterValue(
                f"Invalid entity type '{first}'. Valid values are {_prefix_list(prefixes)}.")
        key = self.quoted() if self.peek() in _QUOTED else self.take(_KEY_CHAIN)
        if key is None:
            raise InvalidParameterValue(
                f"Invalid {context}: missing key after '{first}.' at position {self.pos}. {_KEY_HINT}")
        return prefixes[first], key

    def value(self) -> _Raw:
        char = self.peek()
        if char in ("'", '"'):
            return _Raw("string", self.quoted())
        if char == "(":
            return self.list_value()
        number = self.take(_NUMBER)
        if number is not None:
            return _Raw("number", number)
        word = self.take(_WORD)
        if word is not None:
            return _Raw("word", word)
        raise InvalidParameterValue(
            f"Invalid filter {self.text!r}: expected a value (a number, a 'quoted string' or a list "
            f"('a', 'b')) at position {self.pos}, found {self.rest()!r}.")

    def list_value(self) -> _Raw:
        start = self.pos
        self.pos += 1
        items: list[_Raw] = []
        while True:
            self.skip_ws()
            if self.peek() == ")":
                break
            if not self.peek() or self.peek() in "(,;":
                raise InvalidParameterValue(
                    "While parsing a list in the query, expected a non-empty list of string values, "
                    f"but got ill-formed list {self.text[start:self.pos + 1]!r}. Write ('a', 'b').")
            items.append(self.value())
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != ")":
                raise InvalidParameterValue(
                    "While parsing a list in the query, expected a non-empty list of string values, "
                    f"but got ill-formed list {self.text[start:self.pos + 1]!r}. Write ('a', 'b').")
        self.pos += 1
        return _Raw("list", self.text[start:self.pos], tuple(items))


def _prefix_list(prefixes: Mapping[str, str]) -> str:
    if prefixes is _EXPERIMENT_PREFIXES:
        return "('attribute', 'tag', 'tags')"
    return ("['metric', 'parameter', 'tag', 'attribute', 'dataset'] "
            "(or metrics., params., tags., attributes., datasets.)")


def _split_clauses(text: str, prefixes: Mapping[str, str]) -> list[tuple[str, str, str, _Raw | None]]:
    """Tokenize and check the structure: ``clause (AND clause)*``."""
    scan = _Scanner(text)
    clauses: list[tuple[str, str, str, _Raw | None]] = []
    while True:
        if scan.at_end():
            raise InvalidParameterValue(
                f"Invalid filter {text!r}: AND must join two comparisons; remove the dangling AND.")
        _reject_unsupported(scan)
        kind, key = scan.identifier(prefixes, context=f"filter {text!r}")
        key_end = scan.pos
        scan.skip_ws()
        op = scan.take(_OPERATOR)
        if op is None:
            hint = f" {_KEY_HINT}" if scan.pos == key_end and scan.peek() else ""
            raise InvalidParameterValue(
                f"Invalid comparison clause in filter {text!r}: expected an operator ({_OPS_HINT}) "
                f"at position {scan.pos}, found {scan.rest()!r}.{hint}")
        op = " ".join(op.upper().split())
        value = None
        if op not in (IS_NULL, IS_NOT_NULL):
            scan.skip_ws()
            value = scan.value()
            if op in (IN, NOT_IN) and value.kind != "list":
                raise InvalidParameterValue(
                    f"Invalid filter {text!r}: {op} takes a parenthesized list of quoted strings, "
                    "e.g. attributes.run_id IN ('a1b2', 'c3d4').")
        clauses.append((kind, key, op, value))
        if scan.at_end():
            return clauses
        if (word := scan.take(_KEYWORD)) is None or word.upper() != "AND":
            if word is not None:
                scan.pos -= len(word)
            _reject_unsupported(scan)
            raise InvalidParameterValue(
                f"Invalid clause(s) in filter string: {scan.rest()!r}. Join comparisons with AND, "
                "e.g. metrics.acc > 0.9 AND params.lr = '0.01'.")


def _reject_unsupported(scan: _Scanner) -> None:
    """Name the SQL that MLflow's grammar lacks (OR, NOT, parentheses, ';')."""
    char = scan.peek()
    word = (_KEYWORD.match(scan.text, scan.pos) or _NAME.match(scan.text, scan.pos))
    upper = word.group().upper() if word else ""
    if char == ";":
        raise InvalidParameterValue(
            f"Search filter contained multiple expression {scan.text!r}. Provide AND-ed expression list "
            "(';' may only appear inside quotes).")
    if upper == "OR":
        raise InvalidParameterValue(
            "Invalid clause(s) in filter string: 'OR'. OR is not supported: a filter is comparisons "
            "joined by AND. Run one search per alternative, or use IN with a list for run_id and datasets.")
    if upper == "NOT":
        raise InvalidParameterValue(
            "Invalid clause(s) in filter string: 'NOT'. NOT is not supported: use !=, NOT IN or IS NULL.")
    if upper == "AND":
        raise InvalidParameterValue(
            f"Invalid filter {scan.text!r}: AND must join two comparisons; remove the extra AND.")
    if char == "(":
        raise InvalidParameterValue(
            "Invalid clause(s) in filter string: '('. Parentheses are not supported: "
            "write comparisons joined by AND.")


def _bad_comparator(op: str, allowed: tuple[str, ...], what: str) -> InvalidParameterValue:
    listed = ", ".join(f"'{a}'" for a in allowed)
    return InvalidParameterValue(f"Invalid comparator '{op}' not one of {listed} for {what}.")


def _string_value(kind: str, raw: _Raw) -> str:
    if raw.kind == "string":
        return raw.text
    if raw.kind == "word":
        return _unquoted(raw)
    raise InvalidParameterValue(
        f"Expected a quoted string value for {_KIND_WORD[kind]} (e.g. 'my-value'). Got value {raw.text}")


def _unquoted(raw: _Raw) -> NoReturn:
    raise InvalidParameterValue(
        "Parameter value is either not quoted or unidentified quote types used for string value "
        f"{raw.text}. Use either single or double quotes.")


def _string_list(raw: _Raw) -> tuple[str, ...]:
    if not raw.items:
        raise InvalidParameterValue(
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list")
    if any(item.kind != "string" for item in raw.items):
        raise InvalidParameterValue(
            "While parsing a list in the query, expected string value, punctuation, or whitespace, "
            f"but got different type in list: {raw.text}. Quote every value: ('a', 'b').")
    return tuple(item.text for item in raw.items)


def _list_or_string(kind: str, key: str, op: str, raw: _Raw, list_keys: tuple[str, ...],
                    what: str) -> str | tuple[str, ...]:
    if raw.kind != "list":
        return _string_value(kind, raw)
    if key not in list_keys:
        raise InvalidParameterValue(
            f"Only {list(list_keys)} {what} support comparison with a list of quoted string values.")
    if op not in (IN, NOT_IN):
        raise InvalidParameterValue(
            f"A list of values can only be compared with IN or NOT IN, not '{op}': "
            f"write {key} IN {raw.text}.")
    return _string_list(raw)


def _number(raw: _Raw, message: str) -> str:
    if raw.kind != "number":
        raise InvalidParameterValue(f"{message}. Found {raw.text if raw.kind != 'string' else repr(raw.text)}")
    return raw.text


def _run_comparison(kind: str, key: str, op: str, raw: _Raw | None) -> Comparison:
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
                f"not for '{_KIND_WORD[kind]}' '{key}'")
        return Comparison(kind, key, op, None)
    value: float | int | str | tuple[str, ...]
    if kind == METRIC:
        value, allowed = float(_number(raw, "Expected numeric value type for metric")), _NUMERIC_OPS
    elif kind in (PARAM, TAG):
        value, allowed = _string_value(kind, raw), _KEY_VALUE_OPS
    elif kind == DATASET:
        value, allowed = _list_or_string(kind, key, op, raw, DATASET_KEYS, "dataset keys"), _STRING_OPS
    elif key in RUN_NUMERIC_ATTRIBUTES:
        text = _number(raw, f"Expected numeric value type for numeric attribute: {key}")
        value, allowed = (int(text) if _INTEGER.fullmatch(text) else float(text)), _NUMERIC_OPS
    else:
        value, allowed = _list_or_string(kind, key, op, raw, ("run_id",), "attributes"), _STRING_OPS
    if op not in allowed:
        raise _bad_comparator(op, allowed, f"{_KIND_WORD[kind]} '{key}'")
    return Comparison(kind, key, op, value)


def _experiment_comparison(kind: str, key: str, op: str, raw: _Raw | None) -> Comparison:
    if kind == ATTRIBUTE and key not in _EXPERIMENT_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_EXPERIMENT_ATTRIBUTES)}")
    if raw is None:
        if kind != TAG:
            raise InvalidParameterValue(
                f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'")
        return Comparison(kind, key, op, None)
    value: int | str | tuple[int, ...]
    if kind == TAG:
        value, allowed = _string_value(kind, raw), _KEY_VALUE_OPS
    elif key in EXPERIMENT_NUMERIC_ATTRIBUTES:
        text = _number(raw, f"Expected numeric value type for numeric attribute: {key}")
        if not _INTEGER.fullmatch(text):
            raise InvalidParameterValue(
                f"Invalid value for numeric attribute '{key}': {text!r}. Use an integer (milliseconds).")
        value, allowed = int(text), _NUMERIC_OPS
    elif key == EXPERIMENT_ID:
        ids = _list_or_string(kind, key, op, raw, (EXPERIMENT_ID,), "attributes")
        value = tuple(_experiment_id(i) for i in ids) if isinstance(ids, tuple) else _experiment_id(ids)
        allowed = ("=", "!=", IN, NOT_IN)
    else:
        value = _list_or_string(kind, key, op, raw, (EXPERIMENT_ID,), "attributes")  # type: ignore[assignment]
        allowed = ("=", "!=", "LIKE", "ILIKE")
    if op not in allowed:
        raise _bad_comparator(op, allowed, f"{_KIND_WORD[kind]} '{key}'")
    return Comparison(kind, key, op, value)


def _experiment_id(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise InvalidParameterValue(f"Invalid experiment ID '{text}'. Experiment ID must be a valid integer.")
    return int(text)


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_runs`` filter; ``None`` or blank means no filter.

    >>> parse_run_filter("metrics.acc > 0.9 and params.lr = '0.01'")
    [Comparison(kind='metric', key='acc', op='>', value=0.9), Comparison(kind='param', key='lr', op='=', value='0.01')]
    """
    if not filter_string or not filter_string.strip():
        return []
    return [_run_comparison(*clause) for clause in _split_clauses(filter_string, _RUN_PREFIXES)]


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a ``search_experiments`` filter (``name``, ``experiment_id``, times, ``tags.*``)."""
    if not filter_string or not filter_string.strip():
        return []
    return [_experiment_comparison(*clause) for clause in _split_clauses(filter_string, _EXPERIMENT_PREFIXES)]


def _order_clause(clause: str, prefixes: Mapping[str, str]) -> tuple[str, str, bool]:
    if not isinstance(clause, str):
        raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: expected a string like 'metrics.acc DESC'.")
    scan = _Scanner(clause)
    scan.skip_ws()
    try:
        kind, key = scan.identifier(prefixes, context=f"order_by clause {clause!r}")
    except InvalidParameterValue as exc:
        if "entity type" in exc.message:
            raise
        raise InvalidParameterValue(
            f"Invalid order_by clause '{clause}'. Could not be parsed: write '<key> [ASC|DESC]', "
            "e.g. 'metrics.acc DESC' or 'tags.`my key` ASC'.") from None
    ascending = True
    if not scan.at_end():
        start = scan.pos
        word = scan.take(_NAME)
        if word is None or not scan.at_end():
            scan.pos = start
            raise InvalidParameterValue(
                f"Invalid order_by clause '{clause}'. Could not be parsed: write '<key> [ASC|DESC]', "
                f"e.g. 'metrics.acc DESC' (unexpected {scan.rest()!r}). {_KEY_HINT}")
        if word.upper() not in ("ASC", "DESC"):
            raise InvalidParameterValue(
                f"Invalid ordering key in order_by clause '{clause}'. Use ASC or DESC, not '{word}'.")
        ascending = word.upper() == "ASC"
    return kind, key, ascending


def parse_run_order_by(order_by: list[str] | None) -> list[OrderKey]:
    """Parse ``search_runs`` ``order_by`` entries such as ``"metrics.m0 DESC"`` (default ASC)."""
    keys: list[OrderKey] = []
    for clause in order_by or []:
        kind, key, ascending = _order_clause(clause, _RUN_PREFIXES)
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
        kind, key, ascending = _order_clause(clause, _EXPERIMENT_PREFIXES)
        if kind != ATTRIBUTE:
            raise InvalidParameterValue(
                f"Invalid order_by entity: {kind}. Experiments can be ordered by "
                f"{', '.join(sorted(_EXPERIMENT_ATTRIBUTES))} only.")
        if key not in _EXPERIMENT_ATTRIBUTES:
            raise InvalidParameterValue(
                f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_EXPERIMENT_ATTRIBUTES)}")
        keys.append(OrderKey(kind, key, ascending))
    return keys


def encode_page_token(offset: int) -> str:
    """The token of the page that starts at ``offset``: base64 of ``{"offset": N}`` as MLflow writes it."""
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | None) -> int:
    """The offset a page token points at; ``None`` or ``""`` is the first page (0)."""
    if not token:
        return 0
    hint = "Pass the next_page_token of the previous response unchanged, or omit it for the first page."
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidParameterValue(f"Invalid page token, could not base64-decode. {hint}") from None
    try:
        parsed = json.loads(decoded)
    except ValueError:
        raise InvalidParameterValue(f"Invalid page token, decoded value={decoded!r}. {hint}") from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if isinstance(offset, str) and _INTEGER.fullmatch(offset):
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}. {hint}")
    return offset

"""The toolkit behind every MLflow search grammar: scanner, clause splitter, value checks, page tokens.

Runs, experiments (``service/search.py``), registered models and model
versions (``service/registry_search.py``) and logged models
(``service/logged_models_search.py``) share one syntax and differ only in
which keys, operators and values each entity accepts. This module holds the
shared syntax; each search module holds its entity rules.

A filter is comparisons joined by ``AND`` (MLflow 3.17 has no ``OR``, ``NOT``
or parentheses)::

    metrics.acc > 0.9 AND params.`learning rate` = '0.01' AND attributes.run_id IN ('a', 'b')

The left side is ``<prefix>.<key>`` or a bare attribute; the prefixes a
search knows are a `Prefixes` mapping. Keys made of letters, digits, ``_``
and ``.`` need no quotes (``tags.mlflow.runName``); others go in backticks or
double quotes. Values are numbers, strings in single or double quotes (kept
verbatim between the quotes, as MLflow does: no escape is decoded) or, after
``IN`` / ``NOT IN``, a parenthesized list of strings. Where MLflow silently
accepts nonsense (a missing ``AND``, a dangling ``AND``, ``= (list)``) we
reject it with a message that says how to fix it.

`split_clauses` turns a filter into ``(kind, key, op, Raw value)`` tuples and
`order_clause` an ``order_by`` entry into ``(kind, key, ascending)``; a search
module then checks each against its entity rules with `string_value`,
`string_list`, `list_or_string`, `number` and `bad_comparator`. Every value
ends up a bound SQL parameter; text that does not fit the grammar
(``params.p = 'a'; DROP TABLE runs``) is rejected before any SQL is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import NoReturn

from ..entities.query import (
    ATTRIBUTE,
    DATASET,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    METRIC,
    NOT_IN,
    PARAM,
    TAG,
)
from ..errors import InvalidParameterValue

__all__ = [
    "INTEGER", "KEY_VALUE_OPS", "KIND_WORD", "NUMERIC_OPS", "STRING_OPS", "Prefixes", "Raw", "Scanner",
    "bad_comparator", "decode_page_token", "encode_page_token", "list_or_string", "number",
    "order_clause", "split_clauses", "string_list", "string_value",
]

KIND_WORD = {METRIC: "metric", PARAM: "parameter", TAG: "tag", ATTRIBUTE: "attribute", DATASET: "dataset"}

NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
KEY_VALUE_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

INTEGER = re.compile(r"-?\d+")
_WS = re.compile(r"\s*")
_NAME = re.compile(r"[^\W\d]\w*")
_KEY_CHAIN = re.compile(r"\w+(?:\.\w+)*")
# Quoted text as sqlparse (and so MLflow) delimits it: a doubled or backslashed
# quote does not end the string, and the content is kept verbatim.
_QUOTED = {"'": re.compile(r"'(?:''|\\'|[^'])*'"), '"': re.compile(r'"(?:""|\\"|[^"])*"'),
           "`": re.compile(r"`(?:``|[^`])*`")}
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_WORD = re.compile(r"""[^\s()',;"`]+""")
_OPERATOR = re.compile(r"==|!=|<>|<=|>=|=|<|>|(?i:NOT\s+IN|IS\s+NOT\s+NULL|IS\s+NULL|ILIKE|LIKE|IN)(?!\w)")
_KEYWORD = re.compile(r"(?i:AND|OR|NOT|ASC|DESC)(?!\w)")
_KEY_HINT = "Quote keys holding other characters than letters, digits, '_' and '.' with backticks: metrics.`val-loss`."
_OPS_HINT = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"


class Prefixes(dict[str, str]):
    """The entity prefixes of one search (``"metrics"`` → ``METRIC``).

    ``listing`` is how an "Invalid entity type" error names the valid ones.
    """

    def __init__(self, kinds: Mapping[str, str], listing: str) -> None:
        super().__init__(kinds)
        self.listing = listing


class Raw:
    """A value as written: ``kind`` is string, number, word or list."""

    __slots__ = ("items", "kind", "text")

    def __init__(self, kind: str, text: str, items: tuple[Raw, ...] = ()) -> None:
        self.kind, self.text, self.items = kind, text, items


class Scanner:
    """A cursor over a filter or ``order_by`` clause that reads keys and values."""

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

    def identifier(self, prefixes: Prefixes, *, context: str) -> tuple[str, str]:
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
                f"Invalid entity type '{first}'. Valid values are {prefixes.listing}.")
        key = self.quoted() if self.peek() in _QUOTED else self.take(_KEY_CHAIN)
        if key is None:
            raise InvalidParameterValue(
                f"Invalid {context}: missing key after '{first}.' at position {self.pos}. {_KEY_HINT}")
        return prefixes[first], key

    def value(self) -> Raw:
        char = self.peek()
        if char in ("'", '"'):
            return Raw("string", self.quoted())
        if char == "(":
            return self.list_value()
        number = self.take(_NUMBER)
        if number is not None:
            return Raw("number", number)
        word = self.take(_WORD)
        if word is not None:
            return Raw("word", word)
        raise InvalidParameterValue(
            f"Invalid filter {self.text!r}: expected a value (a number, a 'quoted string' or a list "
            f"('a', 'b')) at position {self.pos}, found {self.rest()!r}.")

    def list_value(self) -> Raw:
        start = self.pos
        self.pos += 1
        items: list[Raw] = []
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
        return Raw("list", self.text[start:self.pos], tuple(items))


def split_clauses(text: str, prefixes: Prefixes) -> list[tuple[str, str, str, Raw | None]]:
    """Tokenize and check the structure: ``clause (AND clause)*``; the value is ``None`` for IS [NOT] NULL."""
    scan = Scanner(text)
    clauses: list[tuple[str, str, str, Raw | None]] = []
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


def _reject_unsupported(scan: Scanner) -> None:
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


def bad_comparator(op: str, allowed: tuple[str, ...], what: str) -> InvalidParameterValue:
    """The error for an operator that ``what`` (e.g. ``"tag 'team'"``) does not accept."""
    listed = ", ".join(f"'{a}'" for a in allowed)
    return InvalidParameterValue(f"Invalid comparator '{op}' not one of {listed} for {what}.")


def string_value(kind: str, raw: Raw) -> str:
    """The text of a quoted string value; any other value is an error naming ``kind``."""
    if raw.kind == "string":
        return raw.text
    if raw.kind == "word":
        return _unquoted(raw)
    raise InvalidParameterValue(
        f"Expected a quoted string value for {KIND_WORD[kind]} (e.g. 'my-value'). Got value {raw.text}")


def _unquoted(raw: Raw) -> NoReturn:
    raise InvalidParameterValue(
        "Parameter value is either not quoted or unidentified quote types used for string value "
        f"{raw.text}. Use either single or double quotes.")


def string_list(raw: Raw) -> tuple[str, ...]:
    """The strings of a non-empty list value whose items are all quoted."""
    if not raw.items:
        raise InvalidParameterValue(
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list")
    if any(item.kind != "string" for item in raw.items):
        raise InvalidParameterValue(
            "While parsing a list in the query, expected string value, punctuation, or whitespace, "
            f"but got different type in list: {raw.text}. Quote every value: ('a', 'b').")
    return tuple(item.text for item in raw.items)


def list_or_string(kind: str, key: str, op: str, raw: Raw, list_keys: tuple[str, ...],
                   what: str) -> str | tuple[str, ...]:
    """A string, or a list of strings for a key in ``list_keys`` compared with IN / NOT IN."""
    if raw.kind != "list":
        return string_value(kind, raw)
    if key not in list_keys:
        raise InvalidParameterValue(
            f"Only {list(list_keys)} {what} support comparison with a list of quoted string values.")
    if op not in (IN, NOT_IN):
        raise InvalidParameterValue(
            f"A list of values can only be compared with IN or NOT IN, not '{op}': "
            f"write {key} IN {raw.text}.")
    return string_list(raw)


def number(raw: Raw, message: str) -> str:
    """The text of a number value; anything else raises ``message`` with what was found."""
    if raw.kind != "number":
        raise InvalidParameterValue(f"{message}. Found {raw.text if raw.kind != 'string' else repr(raw.text)}")
    return raw.text


def order_clause(clause: str, prefixes: Prefixes) -> tuple[str, str, bool]:
    """Parse one ``order_by`` entry, ``<key> [ASC|DESC]``, into (kind, key, ascending)."""
    if not isinstance(clause, str):
        raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: expected a string like 'metrics.acc DESC'.")
    scan = Scanner(clause)
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
    if isinstance(offset, str) and INTEGER.fullmatch(offset):
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 2**63 - 1:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}. {hint}")
    return offset

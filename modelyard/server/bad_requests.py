"""What a client is told about a request body or query it got wrong, with the field named.

Three checks the decoder itself does not make, and MLflow's wording for the
errors it does report:

- **nesting**: msgspec recurses once per level of ``[``/``{``, so a body nested
  a thousand deep raises ``RecursionError``; we refuse anything nested deeper
  than :data:`MAX_JSON_DEPTH` and name the field where it happens;
- **NUL characters** (``\\u0000``): PostgreSQL cannot store them in text, so
  they are refused in every string on every store, naming the field;
- **type errors** read as MLflow's: ``Invalid value 31 for parameter 'run_id'
  supplied:  Hint: Value was of type 'int'. …``, followed by our own detail.

The checks cost nothing on a well-formed body: each is a C-speed search of the
bytes (``bytes.find``/``bytes.count``) unless it finds something, and the
slower scan that names the field runs only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import msgspec.inspect

from ..service.limits import invalid_value, missing_value

# Deeper than any request we define (the deepest is ~5 levels), far below the interpreter's
# recursion limit, so neither the decoder nor a later encode of the stored value recurses too far.
MAX_JSON_DEPTH = 64
NUL_ESCAPE = b"\\u0000"
_BODY = "(request body)"
MLFLOW_HINT = "See the API docs for more information about request parameters."

# A JSON string (group 1) and whether a colon follows it (a key), or one structural character.
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*(:)?|([\[\]{},])', re.DOTALL)
_AT = re.compile(r"^(?P<detail>.*) - at `\$(?P<where>.*)`$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_MISSING = re.compile(r"^Object missing required field `(?P<field>.+)`$")
_EXPECTED = re.compile(r"^Expected `.*`, got `.*`$")


def _walk(body: bytes) -> Iterator[tuple[str, int, str, bytes]]:
    """``(kind, depth, path, text)`` for each string (``"str"``, keys included) and each container
    opened (``"open"``) in ``body``, in order; ``path`` names the field as MLflow does
    (``metrics[3].key``). A tolerant scanner, run only on bodies already known to be odd: it never
    raises."""
    stack: list[list[Any]] = []  # per open container: [b"{", current key] or [b"[", current index]
    for match in _TOKEN.finditer(body):
        text, colon, char = match.groups()
        if text is not None:
            if colon and stack and stack[-1][0] == b"{":
                stack[-1][1] = _unescape(text)
            yield "str", len(stack), _path(stack), text
        elif char == b"[" or char == b"{":
            yield "open", len(stack) + 1, _path(stack), b""
            stack.append([char, None if char == b"{" else 0])
        elif char == b"]" or char == b"}":
            if stack:
                stack.pop()
        elif stack and stack[-1][0] == b"[":  # a comma between items
            stack[-1][1] += 1


def _path(stack: list[list[Any]]) -> str:
    return "".join(f".{at}" if opener == b"{" else f"[{at}]" for opener, at in stack if at is not None).lstrip(".")


def _unescape(text: bytes) -> str:
    try:
        return msgspec.json.decode(b'"' + text + b'"')  # type: ignore[no-any-return]
    except msgspec.DecodeError:
        return text.decode("utf-8", "replace")


def hidden_in(body: bytes, schema: type) -> str | None:
    """The message for what the decoder let through in a ``body`` it decoded as ``schema``: a NUL
    character in a string, or free-form JSON nested too deep. None for a good body, found with a
    search of the bytes for a backslash (a NUL travels only as an escape) and a dict lookup."""
    if b"\\" in body:
        found = nul_character(body)
        if found:
            return found
    free = _FREE_FORM.get(schema)
    if free is None:
        free = _FREE_FORM[schema] = takes_free_form(schema)
    return too_deep(body) if free else None


# Per request schema: whether any field takes free-form JSON (``Any``), which msgspec decodes as
# deep as it is sent; every other field stops a deep value at its first level of the wrong type.
_FREE_FORM: dict[type, bool] = {}


def takes_free_form(schema: type) -> bool:
    """Whether ``schema`` has a field of type ``Any`` (at any depth)."""
    seen: set[int] = set()
    todo: list[msgspec.inspect.Type] = [msgspec.inspect.type_info(schema)]
    while todo:
        info = todo.pop()
        if isinstance(info, msgspec.inspect.AnyType):
            return True
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            todo += [f.type for f in info.fields]
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.VarTupleType)):
            todo.append(info.item_type)
        elif isinstance(info, msgspec.inspect.DictType):
            todo += [info.key_type, info.value_type]
        elif isinstance(info, msgspec.inspect.UnionType):
            todo += info.types
        elif isinstance(info, msgspec.inspect.TupleType):
            todo += info.item_types
        elif isinstance(info, msgspec.inspect.Metadata):
            todo.append(info.type)
    return False


def too_deep(body: bytes) -> str | None:
    """The message for a body nested deeper than :data:`MAX_JSON_DEPTH`, or None if it is not.

    Free for most bodies: one with no more brackets than the limit cannot be that deep.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return None
    for kind, depth, path, _ in _walk(body):
        if kind == "open" and depth > MAX_JSON_DEPTH:
            field = _STEP.match("." + path) if path and path[0] != "[" else None
            return deep_message(field.group(1) if field else "")
    return None


def deep_message(field: str) -> str:
    return (
        f"Invalid value for parameter '{field or _BODY}' supplied: JSON nested more than {MAX_JSON_DEPTH}"
        " levels deep. Send a flatter value."
    )


def nul_character(body: bytes) -> str | None:
    """The message for a JSON string holding a NUL character (``\\u0000``), or None.

    Free for most bodies: a NUL can only travel as the escape ``\\u0000``, which one search finds
    (an escaped backslash followed by ``u0000`` is not a NUL, and is let through).
    """
    if NUL_ESCAPE not in body:
        return None
    for kind, _, path, text in _walk(body):
        if kind == "str" and NUL_ESCAPE in text and "\x00" in _unescape(text):
            return nul_message(path.replace("\x00", "\\u0000") or _BODY)
    return None


def nul_message(field: str) -> str:
    return (
        f"Invalid value for parameter '{field}' supplied: it contains a NUL character (\\u0000),"
        " which no text field can store. Remove it."
    )


def lookup(data: Any, path: str) -> Any:
    """The value at an MLflow-style ``path`` (``metrics[3].key``) in decoded JSON."""
    path = "." + path if path and path[0] != "[" else path
    pos = 0
    while pos < len(path):
        step = _STEP.match(path, pos)
        if step is None:
            raise LookupError(path)
        name, index = step.groups()
        data = data[int(index)] if index else data[name]
        pos = step.end()
    return data


def decode_failure(exc: msgspec.ValidationError, raw: Callable[[], Any]) -> str:
    """MLflow's message for what msgspec refused, naming the field; ``raw()`` gives the undecoded
    value (JSON as plain Python), to show what was sent."""
    text = str(exc)
    at = _AT.match(text)
    detail, where = (at.group("detail"), at.group("where")) if at else (text, "")
    path = where.lstrip(".")
    missing = _MISSING.match(detail)
    if missing:
        return missing_value(f"{path}.{missing.group('field')}" if path else missing.group("field"))
    try:
        value = lookup(raw(), path)
    except (msgspec.DecodeError, RecursionError, LookupError, TypeError, ValueError):
        return f"Invalid value for parameter '{path or _BODY}' supplied: {detail}. {MLFLOW_HINT}"
    if _EXPECTED.match(detail):
        hint = f" Hint: Value was of type '{type(value).__name__}'. {MLFLOW_HINT} {detail}."
    else:
        hint = f"{detail}. {MLFLOW_HINT}"
    return invalid_value(path or _BODY, value, hint)

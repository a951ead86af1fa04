"""Typed parameters: declared by annotations, given as Python values or CLI strings.

``coerce(value, annotation)`` returns the value as the declared type or raises
``TypeError`` with a reason; strings from ``-p k=v`` are parsed (numbers, booleans,
JSON for lists and dicts, ISO dates).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from typing import Any

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def coerce(value: Any, annotation: Any, *, from_cli: bool = False) -> Any:
    """``value`` as ``annotation`` (``Any``/missing accepts anything)."""
    if annotation is Any or annotation is None or annotation is typing.Any:
        return _parse_any(value) if from_cli and isinstance(value, str) else value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        if from_cli and isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, from_cli=from_cli)
            except TypeError as exc:
                errors.append(str(exc))
        raise TypeError(f"expects {type_name(annotation)}, got {value!r}")
    if origin is typing.Literal:
        for choice in args:
            if value == choice or (from_cli and isinstance(value, str) and str(choice) == value):
                return choice
        raise TypeError(f"expects one of {list(args)}, got {value!r}")
    if origin in (list, tuple, set, frozenset, dict) or annotation in (list, tuple, set, dict):
        kind = origin or annotation
        if from_cli and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                if kind is dict:
                    raise TypeError(f"expects {type_name(annotation)} as JSON, got {value!r}") from None
                value = [v for v in value.split(",") if v]
        if kind is dict:
            if not isinstance(value, dict):
                raise TypeError(f"expects {type_name(annotation)}, got {type(value).__name__} {value!r}")
            if len(args) == 2:
                return {coerce(k, args[0], from_cli=from_cli): coerce(v, args[1], from_cli=from_cli) for k, v in value.items()}
            return value
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise TypeError(f"expects {type_name(annotation)}, got {type(value).__name__} {value!r}")
        item = args[0] if args and kind is not tuple else (args[0] if len(args) == 2 and args[1] is Ellipsis else None)
        items = [coerce(v, item, from_cli=from_cli) for v in value] if item is not None else list(value)
        return kind(items)
    if isinstance(annotation, type):
        return _coerce_class(value, annotation, from_cli)
    return value  # an annotation we don't know how to check


def _coerce_class(value: Any, cls: type, from_cli: bool) -> Any:
    if cls is bool:
        if isinstance(value, bool):
            return value
        if from_cli and isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise TypeError(f"expects bool, got {value!r}")
    if cls is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_cli and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise TypeError(f"expects int, got {type(value).__name__} {value!r}")
    if cls is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_cli and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise TypeError(f"expects float, got {type(value).__name__} {value!r}")
    if cls in (dt.datetime, dt.date):
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
        raise TypeError(f"expects an ISO {cls.__name__}, got {value!r}")
    if issubclass(cls, enum.Enum):
        if isinstance(value, cls):
            return value
        for member in cls:
            if value == member.value or value == member.name:
                return member
        raise TypeError(f"expects one of {[m.name for m in cls]}, got {value!r}")
    if cls is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expects str, got {type(value).__name__} {value!r}")
    if isinstance(value, cls):
        return value
    raise TypeError(f"expects {cls.__name__}, got {type(value).__name__}")


def _parse_any(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def compatible(produced: Any, expected: Any) -> bool:
    """Whether a value declared as ``produced`` may feed an input declared ``expected`` (unknown: yes)."""
    if produced in (None, Any, typing.Any) or expected in (None, Any, typing.Any):
        return True
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return any(compatible(produced, a) for a in typing.get_args(expected))
    if typing.get_origin(produced) in (typing.Union, types.UnionType):
        return all(compatible(a, expected) for a in typing.get_args(produced))
    p = typing.get_origin(produced) or produced
    e = typing.get_origin(expected) or expected
    if not isinstance(p, type) or not isinstance(e, type):
        return True
    if e is float and p is int:
        return True
    return issubclass(p, e)


def jsonable(value: Any) -> Any:
    """A JSON-friendly form of a parameter value (for recording)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value

"""Pipeline values shared by runs, schedules and triggers: names, references, executors, JSON columns."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidParameterValue

EXECUTORS = ("inline", "process", "ray")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")


def valid_name(name: Any) -> bool:
    """Whether ``name`` may name a pipeline, schedule or trigger."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(what: str, name: Any) -> str:
    if not valid_name(name):
        raise InvalidParameterValue(f"Invalid {what} name {name!r}: use 1-250 letters, digits, '_', '-' or '.'.")
    return str(name)


_JSON = json.JSONEncoder(sort_keys=True, default=str)  # as json.dumps(value, sort_keys=True, default=str), built once


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is list and not value:  # a step without inputs: most steps
        return "[]"
    return _JSON.encode(value)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def check_executor(executor: Any) -> None:
    if executor is not None and executor not in EXECUTORS:
        raise InvalidParameterValue(f"Unknown executor {executor!r}: use one of {', '.join(EXECUTORS)}.")

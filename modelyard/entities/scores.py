"""A score's value as a number: what an evaluation averages and compares.

Scorers answer with a bool, a number or a string; the mean and the comparison of two
evaluations count booleans and the words yes/true/pass (no/false/fail) as 1 (0).
"""

from __future__ import annotations

from typing import Any

__all__ = ["score_number"]

_YES, _NO = ("yes", "true", "pass"), ("no", "false", "fail")


def score_number(value: Any) -> float | None:
    """``value`` as a number (``True`` and ``'pass'`` are 1.0, ``'no'`` is 0.0), or None when it is none.

    >>> score_number(True), score_number(3), score_number("Fail"), score_number("maybe")
    (1.0, 3.0, 0.0, None)
    """
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() in _YES + _NO:
        return 1.0 if value.lower() in _YES else 0.0
    return None

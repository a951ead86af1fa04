"""LoggedModels methods of ``Client``."""

from __future__ import annotations

from typing import Any


class LoggedModelsMethods:
    _t: Any

"""Registry methods of ``Client``."""

from __future__ import annotations

from typing import Any


class RegistryMethods:
    _t: Any

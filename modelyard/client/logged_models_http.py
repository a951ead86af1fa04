"""LoggedModels methods of the HTTP transport (MLflow REST API)."""

from __future__ import annotations

from typing import Any


class HttpLoggedModels:
    def call(self, method: str, path: str, body: Any = None, params: Any = None) -> dict[str, Any]:
        raise NotImplementedError

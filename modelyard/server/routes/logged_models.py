"""/logged-models/*: MLflow 3 logged models.

The tracking core answers ``search`` (MLflow 3's client calls it when it lists
run artifacts); creating and reading logged models belongs to the registry
work, which fills in this module.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec

from ...service import TrackingService
from ..protocol import endpoint


class SearchLoggedModels(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: Optional[str] = None
    max_results: Optional[int] = None
    page_token: Optional[str] = None


def search(svc: TrackingService, req: SearchLoggedModels) -> dict[str, Any]:
    return {"models": []}


ROUTES = [
    ("/logged-models/search", ["POST"], endpoint(SearchLoggedModels, search)),
]

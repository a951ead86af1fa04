"""Each operation's handler: its request struct in, the service called, the REST answer out.

``fn(service, request) -> dict | None``, named by the table of operations (:mod:`modelyard.api`):
the server's routes and the SDK's in-process transport both run these, so a call means the same
thing over HTTP and in process. The answer is the JSON the REST API sends (MLflow's shapes),
encoded here, at the edge, never in the store.
"""

from __future__ import annotations

from typing import Any


def page_answer(key: str, page: Any, encode: Any = None) -> dict[str, Any]:
    """One page of a list as the REST API sends it: ``{key: [...], "next_page_token": ...}`` (the token
    only when there is a next page). ``encode`` turns an item into its JSON (default: ``to_dict()``);
    items that already are JSON are passed with ``encode=False``."""
    if encode is False:
        items = page.items
    else:
        items = [item.to_dict() if encode is None else encode(item) for item in page.items]
    out: dict[str, Any] = {key: items}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out

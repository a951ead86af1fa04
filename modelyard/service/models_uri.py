"""``models:/`` URIs: which registered model version they name. Light, so the HTTP client can use it."""

from __future__ import annotations

import urllib.parse

from ..errors import InvalidParameterValue


def parse_models_uri(uri: str) -> tuple[str, str, bool]:
    """``models:/name@alias`` -> (name, alias, True); ``models:/name/ref`` -> (name, ref, False)."""
    parsed = urllib.parse.urlparse(uri)
    path = parsed.path.lstrip("/")
    if parsed.scheme != "models" or parsed.netloc or not path:
        raise InvalidParameterValue(
            f"Not a proper models:/ URI: {uri!r}. Use models:/<name>/<version>, models:/<name>/<stage> "
            "or models:/<name>@<alias>.")
    if "/" in path:
        name, _, ref = path.partition("/")
        if name and ref and "/" not in ref:
            return name, ref, False
    elif "@" in path:
        name, _, alias = path.rpartition("@")
        if name and alias:
            return name, alias, True
    raise InvalidParameterValue(
        f"Not a proper models:/ URI: {uri!r}. Use models:/<name>/<version>, models:/<name>/<stage> "
        "or models:/<name>@<alias>.")

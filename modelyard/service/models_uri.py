"""``models:/`` URIs: which registered model version they name. Light, so the HTTP client can use it."""

from __future__ import annotations

import urllib.parse

from ..entities.registry import Stage
from ..errors import InvalidParameterValue

_REFS = {"latest", *(s.lower() for s in Stage.ALL)}


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
            if not ref.isdigit() and ref.lower() not in _REFS:
                raise InvalidParameterValue(
                    f"{ref!r} in {uri!r} is neither a version number, latest nor a stage ({', '.join(Stage.ALL)}). "
                    f"For the alias {ref!r} write models:/{name}@{ref}.")
            return name, ref, False
    elif "@" in path:
        name, _, alias = path.rpartition("@")
        if name and alias:
            return name, alias, True
    raise InvalidParameterValue(
        f"Not a proper models:/ URI: {uri!r}. Use models:/<name>/<version>, models:/<name>/<stage> "
        "or models:/<name>@<alias>.")

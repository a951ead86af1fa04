"""Optional dependencies: the extra that installs each, and a clear error when one is missing.

``pip install modelyard`` runs the embedded store (SQLite), the tracking server, the UI and
``modelyard serve``. Two backends need an extra::

    pip install 'modelyard[postgres]'   psycopg    a postgresql:// backend store
    pip install 'modelyard[s3]'         boto3      s3:// artifact locations
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtra

# module -> (extra that installs it, what it is for)
EXTRAS: dict[str, tuple[str, str]] = {
    "psycopg": ("postgres", "PostgreSQL"),
    "boto3": ("s3", "S3"),
}


def require(module: str, needed_by: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming what needs it and the extra to install.

    ``needed_by`` says what asked for it without secrets, e.g. ``"A postgresql:// backend store URI"``.
    """
    extra, what = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{needed_by} needs {what} support, which is not installed (the Python package {module!r} is missing). "
            f"Install it with: pip install 'modelyard[{extra}]'"
        ) from exc


def check_uris(backend_store_uri: str | None, *artifact_locations: str | None) -> None:
    """Before a server starts: raise :class:`MissingExtra` if one of its URIs needs an extra not installed."""
    if backend_store_uri and backend_store_uri.startswith(("postgresql:", "postgres:", "postgresql+")):
        require("psycopg", "The postgresql:// backend store URI")
    for location in artifact_locations:
        if location and location.startswith("s3://"):
            require("boto3", f"The artifact location {location.split('?', 1)[0]!r}")

"""Who is calling: the signed-in caller of the request being handled, what they may read, in which workspace.

The server sets :data:`caller` around each operation's handler; in embedded mode and on a server
without ``--auth`` it stays None and every caller may do everything.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ResourceDoesNotExist
from ..store.visibility import Visibility
from ..store.workspaces import DEFAULT as DEFAULT_WORKSPACE
from ..store.workspaces import current as workspace
from ..store.workspaces import scope as current_workspace

if TYPE_CHECKING:
    from ..store import TrackingStore


class Principal(NamedTuple):
    """The caller of a request, once authenticated (``default_readable``: the server's default permission
    lets them read what they hold no grant on)."""

    user_id: int
    username: str
    is_admin: bool
    default_readable: bool = True


caller: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("modelyard_caller", default=None)

__all__ = ["DEFAULT_WORKSPACE", "Principal", "caller", "current_workspace", "visibility", "workspace",
           "workspace_to_create_in"]


def workspace_to_create_in(store: TrackingStore) -> str:
    """:func:`current_workspace`, once it is known to exist."""
    name = current_workspace()
    if name != DEFAULT_WORKSPACE and store.workspaces.get(name) is None:
        raise ResourceDoesNotExist(f"Workspace '{name}' not found: create it first (mlflow.create_workspace).")
    return name


def visibility() -> Visibility | None:
    """What searches must filter to for the current caller; None when they see everything."""
    who = caller.get()
    if who is None or who.is_admin:
        return None
    return Visibility(who.user_id, who.default_readable)

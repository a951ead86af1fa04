"""Who is calling: the signed-in caller of the request being handled, and what they may read.

The server sets :data:`caller` around each operation's handler; in embedded mode and on a server
without ``--auth`` it stays None and every caller may do everything.
"""

from __future__ import annotations

import contextvars
from typing import NamedTuple

from ..store.visibility import Visibility


class Principal(NamedTuple):
    """The caller of a request, once authenticated (``default_readable``: the server's default permission
    lets them read what they hold no grant on)."""

    user_id: int
    username: str
    is_admin: bool
    default_readable: bool = True


caller: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("modelyard_caller", default=None)


def visibility() -> Visibility | None:
    """What searches must filter to for the current caller; None when they see everything."""
    who = caller.get()
    if who is None or who.is_admin:
        return None
    return Visibility(who.user_id, who.default_readable)

"""What a signed-in caller may read, as a SQL condition: searches filter in the query, not after it.

A caller reads a resource when their own grant on it is READ or more; without one of their own,
when the best grant of their groups on it is; without either, when the server's default
permission is READ or more (``auth_default_permission``). The same rule as
:meth:`~modelyard.store.auth.AuthStore.level`, as an ``EXISTS`` on the grants tables correlated
with the searched rows, so a page of ``max_results`` is full when that many readable rows exist,
and neither counts nor page tokens tell anything of the others.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, String, and_, cast, exists, not_, or_, select

from . import auth_schema as a

_READABLE = ("READ", "EDIT", "MANAGE")


class Visibility(NamedTuple):
    """A caller who is not an admin: their account and whether the server's default lets them read."""

    user_id: int
    default_readable: bool


def readable(visible: Visibility, resource_type: str, id_column: Any) -> ColumnElement[bool]:
    """True for rows whose ``id_column`` (an experiment id, a model name) the caller may read."""
    g, gg, m = a.auth_grants, a.auth_group_grants, a.auth_group_members
    key = id_column if isinstance(id_column.type, String) else cast(id_column, String)
    own = and_(g.c.user_id == visible.user_id, g.c.resource_type == resource_type, g.c.resource_id == key)
    groups = select(m.c.group_id).where(m.c.user_id == visible.user_id).scalar_subquery()
    by_group = and_(gg.c.group_id.in_(groups), gg.c.resource_type == resource_type, gg.c.resource_id == key)
    fallback: ColumnElement[bool] = exists().where(by_group, gg.c.level.in_(_READABLE))
    if visible.default_readable:
        fallback = or_(fallback, not_(exists().where(by_group)))
    return or_(exists().where(own, g.c.level.in_(_READABLE)), and_(not_(exists().where(own)), fallback))

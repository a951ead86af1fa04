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

from sqlalchemy import ColumnElement, String, and_, cast, exists, false, literal, not_, or_, select, true

from . import auth_schema as a
from .schema import experiments
from .workspaces import key_in_scope, scope

_READABLE = ("READ", "EDIT", "MANAGE")


class Visibility(NamedTuple):
    """A caller who is not an admin: their account and whether the server's default lets them read."""

    user_id: int
    default_readable: bool


def _level_in(visible: Visibility, resource_type: str, key: Any, levels: tuple[str, ...] | None) -> ColumnElement[bool]:
    """The caller's own grant on the resource exists (with one of ``levels``, if given)."""
    g = a.auth_grants
    where = [g.c.user_id == visible.user_id, g.c.resource_type == resource_type, g.c.resource_id == key]
    if levels is not None:
        where.append(g.c.level.in_(levels))
    return exists().where(*where)


def _group_level_in(visible: Visibility, resource_type: str, key: Any,
                    levels: tuple[str, ...] | None) -> ColumnElement[bool]:
    gg, m = a.auth_group_grants, a.auth_group_members
    groups = select(m.c.group_id).where(m.c.user_id == visible.user_id).scalar_subquery()
    where = [gg.c.group_id.in_(groups), gg.c.resource_type == resource_type, gg.c.resource_id == key]
    if levels is not None:
        where.append(gg.c.level.in_(levels))
    return exists().where(*where)


def readable(visible: Visibility, resource_type: str, id_column: Any,
             workspace_column: Any = None) -> ColumnElement[bool]:
    """True for rows whose ``id_column`` (an experiment id, a registered model's grant key:
    :func:`.workspaces.model_key_column`) the caller may read.

    The first of these that exists decides: the caller's own grant on the resource, their groups'
    best grant on it, their own grant on its workspace (``workspace_column``), their groups' on it,
    and last the server's default.
    """
    key = id_column if isinstance(id_column.type, String) else cast(id_column, String)
    steps = [(resource_type, key, _level_in), (resource_type, key, _group_level_in)]
    if workspace_column is not None:
        steps += [("workspace", workspace_column, _level_in), ("workspace", workspace_column, _group_level_in)]
    # Build from the last step back: granted here, or nothing here and the rest allows it.
    verdict: ColumnElement[bool] = true() if visible.default_readable else false()
    for kind, ident, held in reversed(steps):
        verdict = or_(held(visible, kind, ident, _READABLE), and_(not_(held(visible, kind, ident, None)), verdict))
    return verdict


def model_readable(visible: Visibility, key_column: Any) -> ColumnElement[bool]:
    """True for rows naming (``key_column``: a :func:`.workspaces.model_key`) a registered model of the request's
    workspace the caller may read: a monitor's model, an alert's monitor's model. As :meth:`.auth.AuthStore.level`
    on its grant key; rows of other workspaces are left out (see :func:`.workspaces.key_in_scope`)."""
    return and_(key_in_scope(key_column), readable(visible, "registered_model", key_column, literal(scope())))


def experiment_readable(visible: Visibility, id_column: Any) -> ColumnElement[bool]:
    """True for rows whose experiment (``id_column``, an id) the caller may read, its workspace's grants included."""
    e = experiments.c
    workspace_of = (select(e.workspace).where(e.experiment_id == id_column)
                    .correlate_except(experiments).scalar_subquery())  # to the searched rows, however deep
    return readable(visible, "experiment", id_column, workspace_of)

"""SQL for searching registered models and model versions, from a parsed search.

Semantics follow MLflow 3.17.2's registry SQL store: a tag comparison keeps
only entities that have the tag and whose value passes; models tagged
``mlflow.prompt.is_prompt = 'true'`` (prompts) are left out unless the filter
asks for them; ``LIKE`` / ``ILIKE`` behave exactly as in run search (see
``store/search.py``). Registered models sort by the given keys, then
``name ASC``; versions by the given keys (default ``last_updated_timestamp
DESC``), then ``name ASC`` and ``version DESC``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select

from ..entities.query import ATTRIBUTE, TAG, Comparison, OrderKey
from .registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from .search import compare
from .visibility import Visibility, readable
from .workspaces import model_key_column

__all__ = ["PROMPT_TAG", "model_version_search_select", "registered_model_search_select"]

PROMPT_TAG = "mlflow.prompt.is_prompt"

rm, rmt, mv, mvt = registered_models, registered_model_tags, model_versions, model_version_tags

_MODEL_ORDER = {"name": rm.c.name, "last_updated_timestamp": rm.c.last_updated_time,
                "timestamp": rm.c.last_updated_time, "creation_timestamp": rm.c.creation_time}
_VERSION_FILTER = {"name": rm.c.name, "run_id": mv.c.run_id, "source_path": mv.c.source,
                   "version_number": mv.c.version}
_VERSION_ORDER = {"name": rm.c.name, "version_number": mv.c.version,
                  "creation_timestamp": mv.c.creation_time, "last_updated_timestamp": mv.c.last_updated_time}


def _model_tag(f: Comparison, dialect: str) -> ColumnElement[bool]:
    return exists().where(rmt.c.registered_model_id == rm.c.id, rmt.c.key == f.key,
                          compare(rmt.c.value, f.op, f.value, dialect))


def _not_prompt() -> ColumnElement[bool]:
    return ~exists().where(rmt.c.registered_model_id == rm.c.id, rmt.c.key == PROMPT_TAG, rmt.c.value == "true")


def _ordered(keys: list[OrderKey], columns: dict[str, Any], tail: list[Any]) -> list[Any]:
    clauses = [columns[o.key].asc() if o.ascending else columns[o.key].desc() for o in keys]
    used = {columns[o.key].name for o in keys}
    return clauses + [t for t in tail if t.element.name not in used]


def registered_model_search_select(
    filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, dialect: str,
    *, include_prompts: bool = False, visible: Visibility | None = None, workspace: str | None = None,
) -> Select[Any]:
    """Ids of the registered models that match, in order, one page (``limit`` rows from ``offset``)."""
    where: list[ColumnElement[bool]] = []
    for f in filters:
        if f.kind == ATTRIBUTE:
            where.append(compare(rm.c.name, f.op, f.value, dialect))
        elif f.kind == TAG:
            where.append(_model_tag(f, dialect))
        else:
            raise ValueError(f"registered models cannot be filtered on {f.kind} fields")
    if not include_prompts:
        where.append(_not_prompt())
    if workspace is not None:
        where.append(rm.c.workspace == workspace)
    if visible is not None:  # only what the caller may read (:mod:`.visibility`)
        where.append(readable(visible, "registered_model", model_key_column(rm.c.name, rm.c.workspace), rm.c.workspace))
    order = _ordered(order_by, _MODEL_ORDER, [rm.c.name.asc()])
    return select(rm.c.id).where(*where).order_by(*order).limit(limit).offset(offset)


def model_version_search_select(
    filters: list[Comparison], order_by: list[OrderKey], limit: int, offset: int, dialect: str,
    *, include_prompts: bool = False, visible: Visibility | None = None, workspace: str | None = None,
) -> Select[Any]:
    """Ids (``model_versions.id``) of the versions that match, in order, one page."""
    where: list[ColumnElement[bool]] = []
    for f in filters:
        if f.kind == ATTRIBUTE:
            where.append(compare(_VERSION_FILTER[f.key], f.op, f.value, dialect))
        elif f.kind == TAG:
            where.append(exists().where(mvt.c.model_version_id == mv.c.id, mvt.c.key == f.key,
                                        compare(mvt.c.value, f.op, f.value, dialect)))
        else:
            raise ValueError(f"model versions cannot be filtered on {f.kind} fields")
    if not include_prompts:
        where.append(_not_prompt())
        where.append(~exists().where(mvt.c.model_version_id == mv.c.id, mvt.c.key == PROMPT_TAG,
                                     mvt.c.value == "true"))
    if workspace is not None:
        where.append(rm.c.workspace == workspace)
    if visible is not None:
        where.append(readable(visible, "registered_model", model_key_column(rm.c.name, rm.c.workspace), rm.c.workspace))
    keys = order_by or [OrderKey(ATTRIBUTE, "last_updated_timestamp", False)]
    order = _ordered(keys, _VERSION_ORDER, [rm.c.name.asc(), mv.c.version.desc()])
    return (
        select(mv.c.id).select_from(mv.join(rm, and_(rm.c.id == mv.c.registered_model_id)))
        .where(*where).order_by(*order).limit(limit).offset(offset)
    )

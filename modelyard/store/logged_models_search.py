"""SQL for searching logged models, from a parsed search (``modelyard.entities.query``).

Semantics follow MLflow 3.17.2's SQL store (``search_logged_models``):

- Only active models of the given experiments.
- A metric comparison keeps models with at least one linked metric point of
  that key whose value passes, restricted to the request's datasets when it
  names any; a NaN passes ``!=`` only. With datasets and no metric
  comparison, a model needs at least one metric on one of those datasets.
- A param or tag comparison keeps models that have the key with a passing value.
- ``ORDER BY`` a metric uses each model's latest point of that key (newest
  timestamp, then highest step), optionally on one dataset; models without it
  come last in both directions, NaN just before them. Ties are broken by
  ``creation_timestamp_ms DESC`` then ``model_id ASC`` unless ordered on already.

``LIKE`` / ``ILIKE`` have the exact semantics of run search (``store/search.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, or_, select, true

from ..entities.query import ATTRIBUTE, METRIC, PARAM, TAG, Comparison
from .logged_models_schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from .search import compare, metric_value_filter

__all__ = ["ATTRIBUTE_COLUMNS", "DatasetRef", "ModelOrder", "logged_model_search_select"]

lm = logged_models.c
ATTRIBUTE_COLUMNS: dict[str, Any] = {
    "model_id": lm.model_id,
    "name": lm.name,
    "model_type": lm.model_type,
    "status": lm.status,
    "source_run_id": lm.source_run_id,
    "artifact_uri": lm.artifact_location,
    "creation_timestamp_ms": lm.creation_timestamp_ms,
    "last_updated_timestamp_ms": lm.last_updated_timestamp_ms,
}
_KEY_VALUE = {PARAM: logged_model_params, TAG: logged_model_tags}


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A dataset that metric filters or an order key are restricted to (digest optional)."""

    name: str
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class ModelOrder:
    """One ``order_by`` entry: an attribute, or a metric on an optional dataset."""

    kind: str  # ATTRIBUTE or METRIC
    key: str
    ascending: bool = True
    dataset: DatasetRef | None = None


def _on_datasets(datasets: list[DatasetRef]) -> list[ColumnElement[bool]]:
    m = logged_model_metrics.c
    if not datasets:
        return []
    terms = [
        and_(m.dataset_name == d.name, *([m.dataset_digest == d.digest] if d.digest else [])) for d in datasets
    ]
    return [or_(*terms)]


def _condition(f: Comparison, datasets: list[DatasetRef], dialect: str) -> ColumnElement[bool]:
    if f.kind == ATTRIBUTE:
        return compare(ATTRIBUTE_COLUMNS[f.key], f.op, f.value, dialect)
    if f.kind == METRIC:
        m = logged_model_metrics.c
        passes = metric_value_filter(m.value, m.is_nan, f.op, float(f.value), dialect)  # type: ignore[arg-type]
        return exists().where(m.model_id == lm.id, m.key == f.key, passes, *_on_datasets(datasets))
    table = _KEY_VALUE[f.kind].c
    return exists().where(table.model_id == lm.id, table.key == f.key, compare(table.value, f.op, f.value, dialect))


def _latest(column: Any, o: ModelOrder) -> Any:
    m = logged_model_metrics.c
    return (
        select(column)
        .where(m.model_id == lm.id, m.key == o.key, *_on_datasets([o.dataset] if o.dataset else []))
        .order_by(m.timestamp.desc(), m.step.desc(), m.run_id.asc())
        .limit(1)
        .correlate(logged_models)
        .scalar_subquery()
    )


def _order_terms(order_by: list[ModelOrder]) -> list[Any]:
    terms: list[Any] = []
    for o in order_by:
        if o.kind == METRIC:
            value = _latest(logged_model_metrics.c.value, o)
            nan = _latest(logged_model_metrics.c.is_nan, o)
            terms.append(case((nan == true(), 1), (value.is_(None), 2), else_=0).asc())
        else:
            value = ATTRIBUTE_COLUMNS[o.key]
            if value.nullable:
                terms.append(case((value.is_(None), 1), else_=0).asc())
        terms.append(value.asc() if o.ascending else value.desc())
    keys = {o.key for o in order_by if o.kind == ATTRIBUTE}
    if "creation_timestamp_ms" not in keys:
        terms.append(lm.creation_timestamp_ms.desc())
    if "model_id" not in keys:
        terms.append(lm.model_id.asc())
    return terms


def logged_model_search_select(
    experiment_ids: list[int],
    filters: list[Comparison],
    datasets: list[DatasetRef],
    order_by: list[ModelOrder],
    limit: int,
    offset: int,
    dialect: str,
) -> Select[Any]:
    """The page of active logged models (all ``logged_models`` columns) that match, in MLflow's order.

    Pass ``limit = max_results + 1`` to learn whether a next page exists.
    """
    where = [
        lm.experiment_id.in_(experiment_ids),
        lm.lifecycle_stage == "active",
        *(_condition(f, datasets, dialect) for f in filters),
    ]
    if datasets and not any(f.kind == METRIC for f in filters):
        m = logged_model_metrics.c
        where.append(exists().where(m.model_id == lm.id, *_on_datasets(datasets)))
    return select(logged_models).where(*where).order_by(*_order_terms(order_by)).limit(limit).offset(offset)

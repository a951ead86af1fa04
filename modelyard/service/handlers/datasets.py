"""MLflow 3's evaluation dataset API (see ``api/datasets.py``): answers in the protos' JSON shapes."""

from __future__ import annotations

import json
from typing import Any

from ...api import schemas_datasets as s
from ...store.datasets import DatasetRow
from .. import TrackingService


def dataset_json(row: DatasetRow) -> dict[str, Any]:
    out: dict[str, Any] = {"dataset_id": row.dataset_id, "name": row.name, "tags": json.dumps(row.tags),
                           "digest": row.digest, "created_time": row.created_time,
                           "last_update_time": row.last_update_time, "experiment_ids": list(row.experiment_ids)}
    for key in ("schema", "profile", "created_by", "last_updated_by"):
        if getattr(row, key) is not None:
            out[key] = getattr(row, key)
    return out


def create_dataset(svc: TrackingService, req: s.CreateDataset) -> dict[str, Any]:
    return {"dataset": dataset_json(svc.datasets.create(req.name, req.experiment_ids, req.tags))}


def get_dataset(svc: TrackingService, req: s.GetDataset) -> dict[str, Any]:
    return {"dataset": dataset_json(svc.datasets.get(req.dataset_id))}


def delete_dataset(svc: TrackingService, req: s.DatasetId) -> dict[str, Any]:
    svc.datasets.delete(req.dataset_id)
    return {}


def search_datasets(svc: TrackingService, req: s.SearchEvaluationDatasets) -> dict[str, Any]:
    rows, token = svc.datasets.search(req.experiment_ids, req.filter_string, req.max_results, req.order_by,
                                      req.page_token)
    out: dict[str, Any] = {"datasets": [dataset_json(r) for r in rows]}
    if token:
        out["next_page_token"] = token
    return out


def set_dataset_tags(svc: TrackingService, req: s.SetDatasetTags) -> dict[str, Any]:
    return {"dataset": dataset_json(svc.datasets.set_tags(req.dataset_id, req.tags))}


def delete_dataset_tag(svc: TrackingService, req: s.DeleteDatasetTag) -> dict[str, Any]:
    svc.datasets.delete_tag(req.dataset_id, req.key)
    return {}


def upsert_dataset_records(svc: TrackingService, req: s.UpsertDatasetRecords) -> dict[str, Any]:
    inserted, updated = svc.datasets.merge_records(req.dataset_id, req.records)
    return {"inserted_count": inserted, "updated_count": updated}


def get_dataset_records(svc: TrackingService, req: s.GetDatasetRecords) -> dict[str, Any]:
    records, token = svc.datasets.records(req.dataset_id, req.max_results, req.page_token)
    out: dict[str, Any] = {"records": json.dumps(records)}
    if token:
        out["next_page_token"] = token
    return out


def delete_dataset_records(svc: TrackingService, req: s.DeleteDatasetRecords) -> dict[str, Any]:
    return {"deleted_count": svc.datasets.delete_records(req.dataset_id, req.dataset_record_ids)}


def get_dataset_experiment_ids(svc: TrackingService, req: s.DatasetId) -> dict[str, Any]:
    return {"experiment_ids": svc.datasets.get(req.dataset_id).experiment_ids}


def add_dataset_to_experiments(svc: TrackingService, req: s.DatasetExperiments) -> dict[str, Any]:
    return {"dataset": dataset_json(svc.datasets.change_experiments(req.dataset_id, add=req.experiment_ids))}


def remove_dataset_from_experiments(svc: TrackingService, req: s.DatasetExperiments) -> dict[str, Any]:
    return {"dataset": dataset_json(svc.datasets.change_experiments(req.dataset_id, remove=req.experiment_ids))}

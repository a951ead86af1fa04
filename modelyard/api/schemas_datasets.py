"""Declared request schemas of MLflow 3's evaluation dataset API (``service.proto``: CreateDataset...).

Tags and records travel as JSON strings inside the JSON body, as the official client sends them;
the service parses them and names any bad field. ``dataset_id`` and ``key`` also arrive in the path.
"""

from __future__ import annotations

from typing import Optional

from .schemas import Int64, Request


class CreateDataset(Request):
    name: Optional[str] = None
    experiment_ids: list[str] = []
    tags: Optional[str] = None  # a JSON object
    source_type: Optional[str] = None
    source: Optional[str] = None
    schema: Optional[str] = None
    profile: Optional[str] = None
    created_by: Optional[str] = None


class DatasetId(Request):
    dataset_id: Optional[str] = None


class GetDataset(DatasetId):
    page_token: Optional[str] = None


class SearchEvaluationDatasets(Request):
    experiment_ids: list[str] = []
    filter_string: Optional[str] = None
    max_results: Optional[Int64] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class SetDatasetTags(DatasetId):
    tags: Optional[str] = None  # a JSON object


class DeleteDatasetTag(DatasetId):
    key: Optional[str] = None


class UpsertDatasetRecords(DatasetId):
    records: Optional[str] = None  # a JSON list of records
    updated_by: Optional[str] = None


class GetDatasetRecords(DatasetId):
    max_results: Optional[Int64] = None
    page_token: Optional[str] = None


class DeleteDatasetRecords(DatasetId):
    dataset_record_ids: list[str] = []


class DatasetExperiments(DatasetId):
    experiment_ids: list[str] = []

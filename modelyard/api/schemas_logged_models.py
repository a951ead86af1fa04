"""Declared request schemas of MLflow 3's logged-models API and ``runs/outputs``.

Fields are optional where MLflow's protos make them optional; the service
reports a missing required value. ``model_id`` and ``tag_key`` also arrive in
the path (``/logged-models/{model_id}/tags/{tag_key}``); the path wins.
A status is an enum name (``LOGGED_MODEL_READY``) or its number.
"""

from __future__ import annotations

from typing import Optional, Union

from .schemas import Int64, KeyValue, Request


class CreateLoggedModel(Request):
    experiment_id: Optional[str] = None
    name: Optional[str] = None
    model_type: Optional[str] = None
    source_run_id: Optional[str] = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class ModelId(Request):
    model_id: Optional[str] = None


class GetLoggedModel(ModelId):
    allow_deleted: Optional[bool] = False


class FinalizeLoggedModel(ModelId):
    status: Optional[Union[Int64, str]] = None


class SetLoggedModelTags(ModelId):
    tags: list[KeyValue] = []


class DeleteLoggedModelTag(ModelId):
    tag_key: Optional[str] = None


class LogLoggedModelParams(ModelId):
    params: list[KeyValue] = []


class DatasetFilter(Request):
    dataset_name: Optional[str] = None
    dataset_digest: Optional[str] = None


class OrderBy(Request):
    field_name: Optional[str] = None
    ascending: Optional[bool] = True
    dataset_name: Optional[str] = None
    dataset_digest: Optional[str] = None


class SearchLoggedModels(Request):
    experiment_ids: list[str] = []
    filter: Optional[str] = None
    datasets: list[DatasetFilter] = []
    max_results: Optional[Int64] = None
    order_by: list[OrderBy] = []
    page_token: Optional[str] = None


class ListLoggedModelArtifacts(ModelId):
    artifact_directory_path: Optional[str] = None
    page_token: Optional[str] = None


class GetLoggedModelArtifact(ModelId):
    artifact_file_path: Optional[str] = None


class ModelOutputIn(Request):
    model_id: Optional[str] = None
    step: Optional[Int64] = 0


class LogOutputs(Request):
    run_id: Optional[str] = None
    models: list[ModelOutputIn] = []

"""Declared request schemas of the MLflow model registry REST API (``model_registry.proto``).

Fields are optional where the protos allow it; the registry service reports
a missing required value with MLflow's message.
"""

from __future__ import annotations

from typing import Optional, Union

from .schemas import Int64, KeyValue, Request


class Name(Request):
    name: Optional[str] = None


class CreateRegisteredModel(Name):
    tags: list[KeyValue] = []
    description: Optional[str] = None
    deployment_job_id: Optional[str] = None


class RenameRegisteredModel(Name):
    new_name: Optional[str] = None


class UpdateRegisteredModel(Name):
    description: Optional[str] = None
    deployment_job_id: Optional[str] = None


class SearchRegisteredModels(Request):
    filter: Optional[str] = None
    max_results: Optional[Int64] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class GetLatestVersions(Name):
    stages: list[str] = []


class SetRegisteredModelTag(Name):
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteRegisteredModelTag(Name):
    key: Optional[str] = None


class Alias(Name):
    alias: Optional[str] = None


class SetRegisteredModelAlias(Alias):
    version: Optional[Union[Int64, str]] = None


class CreateModelVersion(Name):
    source: Optional[str] = None
    run_id: Optional[str] = None
    tags: list[KeyValue] = []
    run_link: Optional[str] = None
    description: Optional[str] = None
    model_id: Optional[str] = None


class Version(Name):
    version: Optional[Union[Int64, str]] = None


class UpdateModelVersion(Version):
    description: Optional[str] = None


class TransitionModelVersionStage(Version):
    stage: Optional[str] = None
    archive_existing_versions: Optional[bool] = False


class SearchModelVersions(Request):
    filter: Optional[str] = None
    max_results: Optional[Int64] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class SetModelVersionTag(Version):
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteModelVersionTag(Version):
    key: Optional[str] = None


class RegistryAudit(Name):
    max_results: Optional[Int64] = 1000
    page_token: Optional[str] = None

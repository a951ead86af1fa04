"""Registry methods of the in-process transport (they call the service)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.registry import ModelVersion, RegisteredModel


class LocalRegistry:
    service: Any

    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None) -> RegisteredModel:
        return self.service.registry.create_registered_model(name, tags, description)  # type: ignore[no-any-return]

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.service.registry.get_registered_model(name)  # type: ignore[no-any-return]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.service.registry.rename_registered_model(name, new_name)  # type: ignore[no-any-return]

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self.service.registry.update_registered_model(name, description)  # type: ignore[no-any-return]

    def delete_registered_model(self, name: str) -> None:
        self.service.registry.delete_registered_model(name)

    def search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str] | None, page_token: str | None
    ) -> PagedList:
        return self.service.registry.search_registered_models(  # type: ignore[no-any-return]
            filter_string, max_results, order_by, page_token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None) -> list[ModelVersion]:
        return self.service.registry.get_latest_versions(name, stages)  # type: ignore[no-any-return]

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self.service.registry.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.service.registry.delete_registered_model_tag(name, key)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.service.registry.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.service.registry.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.service.registry.get_model_version_by_alias(name, alias)  # type: ignore[no-any-return]

    def create_model_version(
        self, name: str, source: str, run_id: str | None, tags: dict[str, str], run_link: str | None,
        description: str | None, model_id: str | None,
    ) -> ModelVersion:
        return self.service.registry.create_model_version(  # type: ignore[no-any-return]
            name, source, run_id, tags, run_link, description, model_id)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        return self.service.registry.get_model_version(name, version)  # type: ignore[no-any-return]

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        return self.service.registry.update_model_version(name, version, description)  # type: ignore[no-any-return]

    def delete_model_version(self, name: str, version: str) -> None:
        self.service.registry.delete_model_version(name, version)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        return self.service.registry.transition_model_version_stage(  # type: ignore[no-any-return]
            name, version, stage, archive_existing_versions)

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        return self.service.registry.get_model_version_download_uri(name, version)  # type: ignore[no-any-return]

    def search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str] | None, page_token: str | None
    ) -> PagedList:
        return self.service.registry.search_model_versions(  # type: ignore[no-any-return]
            filter_string, max_results, order_by, page_token)

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.service.registry.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        self.service.registry.delete_model_version_tag(name, version, key)

    def registry_audit(self, name: str, max_results: int, page_token: str | None) -> PagedList:
        return self.service.registry.audit(name, max_results, page_token)  # type: ignore[no-any-return]

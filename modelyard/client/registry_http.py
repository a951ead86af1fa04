"""Registry methods of the HTTP transport (MLflow REST API, plus our audit extension)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..entities import PagedList
from ..entities.registry import ModelVersion, RegisteredModel, RegistryAuditEntry

RM = "/api/2.0/mlflow/registered-models"
MV = "/api/2.0/mlflow/model-versions"
AUDIT = "/api/2.0/modelyard/registry/audit"


def _kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in d.items()]


def _search_params(filter_string: str | None, max_results: int, order_by: list[str] | None,
                   page_token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"max_results": max_results}
    if filter_string:
        params["filter"] = filter_string
    if order_by:
        params["order_by"] = list(order_by)
    if page_token:
        params["page_token"] = page_token
    return params


class HttpRegistry:
    send: Callable[..., dict[str, Any]]

    # ---- registered models ----------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None) -> RegisteredModel:
        body: dict[str, Any] = {"name": name, "tags": _kv(tags)}
        if description is not None:
            body["description"] = description
        return RegisteredModel.from_dict(self.send("POST", f"{RM}/create", body)["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.from_dict(self.send("GET", f"{RM}/get", params={"name": name})["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        out = self.send("POST", f"{RM}/rename", {"name": name, "new_name": new_name})
        return RegisteredModel.from_dict(out["registered_model"])

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        out = self.send("PATCH", f"{RM}/update", {"name": name, "description": description})
        return RegisteredModel.from_dict(out["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self.send("DELETE", f"{RM}/delete", {"name": name})

    def search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str] | None, page_token: str | None
    ) -> PagedList:
        out = self.send("GET", f"{RM}/search", params=_search_params(filter_string, max_results, order_by, page_token))
        items = [RegisteredModel.from_dict(m) for m in out.get("registered_models", [])]
        return PagedList(items, out.get("next_page_token") or None)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None) -> list[ModelVersion]:
        out = self.send("POST", f"{RM}/get-latest-versions", {"name": name, "stages": list(stages or [])})
        return [ModelVersion.from_dict(v) for v in out.get("model_versions", [])]

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self.send("POST", f"{RM}/set-tag", {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.send("DELETE", f"{RM}/delete-tag", {"name": name, "key": key})

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.send("POST", f"{RM}/alias", {"name": name, "alias": alias, "version": version})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.send("DELETE", f"{RM}/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        out = self.send("GET", f"{RM}/alias", params={"name": name, "alias": alias})
        return ModelVersion.from_dict(out["model_version"])

    # ---- model versions -------------------------------------------------------

    def create_model_version(
        self, name: str, source: str, run_id: str | None, tags: dict[str, str], run_link: str | None,
        description: str | None, model_id: str | None,
    ) -> ModelVersion:
        body: dict[str, Any] = {"name": name, "source": source, "tags": _kv(tags)}
        for key, value in (("run_id", run_id), ("run_link", run_link), ("description", description),
                           ("model_id", model_id)):
            if value is not None:
                body[key] = value
        return ModelVersion.from_dict(self.send("POST", f"{MV}/create", body)["model_version"])

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        out = self.send("GET", f"{MV}/get", params={"name": name, "version": version})
        return ModelVersion.from_dict(out["model_version"])

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        out = self.send("PATCH", f"{MV}/update", {"name": name, "version": version, "description": description})
        return ModelVersion.from_dict(out["model_version"])

    def delete_model_version(self, name: str, version: str) -> None:
        self.send("DELETE", f"{MV}/delete", {"name": name, "version": version})

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        body = {"name": name, "version": version, "stage": stage,
                "archive_existing_versions": archive_existing_versions}
        return ModelVersion.from_dict(self.send("POST", f"{MV}/transition-stage", body)["model_version"])

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        out = self.send("GET", f"{MV}/get-download-uri", params={"name": name, "version": version})
        return str(out.get("artifact_uri", ""))

    def search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str] | None, page_token: str | None
    ) -> PagedList:
        out = self.send("GET", f"{MV}/search", params=_search_params(filter_string, max_results, order_by, page_token))
        items = [ModelVersion.from_dict(v) for v in out.get("model_versions", [])]
        return PagedList(items, out.get("next_page_token") or None)

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.send("POST", f"{MV}/set-tag", {"name": name, "version": version, "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        self.send("DELETE", f"{MV}/delete-tag", {"name": name, "version": version, "key": key})

    # ---- our extension --------------------------------------------------------

    def registry_audit(self, name: str, max_results: int, page_token: str | None) -> PagedList:
        params: dict[str, Any] = {"name": name, "max_results": max_results}
        if page_token:
            params["page_token"] = page_token
        out = self.send("GET", AUDIT, params=params)
        items = [RegistryAuditEntry.from_dict(e) for e in out.get("entries", [])]
        return PagedList(items, out.get("next_page_token") or None)

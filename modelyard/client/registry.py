"""Registry methods of ``Client``, named and shaped as ``MlflowClient``'s.

>>> c = my.Client()
>>> c.create_registered_model("fraud")
>>> mv = c.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
>>> c.set_registered_model_alias("fraud", "champion", mv.version)
>>> c.get_model_version_by_alias("fraud", "champion").version
'1'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..api import registry as ops
from ..api import schemas_registry as s
from ..api.operations import Operation
from ..api.schemas import KeyValue
from ..entities import PagedList
from ..entities.registry import ModelVersion, RegisteredModel, RegistryAuditEntry
from ..errors import ResourceDoesNotExist
from ..service.models_uri import parse_models_uri


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _kv(d: dict[str, Any] | None) -> list[KeyValue]:
    return [KeyValue(key=k, value=_str(v)) for k, v in (d or {}).items()]


def _page(out: dict[str, Any], key: str, decode: Callable[[dict[str, Any]], Any]) -> PagedList:
    return PagedList([decode(item) for item in out.get(key, ())], out.get("next_page_token") or None)


class RegistryMethods:
    _call: Callable[[Operation, msgspec.Struct], dict[str, Any]]

    # ---- registered models ----------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        req = s.CreateRegisteredModel(name=name, tags=_kv(tags), description=description)
        return RegisteredModel.from_dict(self._call(ops.CREATE_REGISTERED_MODEL, req)["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.from_dict(self._call(ops.GET_REGISTERED_MODEL, s.Name(name=name))["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        out = self._call(ops.RENAME_REGISTERED_MODEL, s.RenameRegisteredModel(name=name, new_name=new_name))
        return RegisteredModel.from_dict(out["registered_model"])

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        out = self._call(ops.UPDATE_REGISTERED_MODEL, s.UpdateRegisteredModel(name=name, description=description))
        return RegisteredModel.from_dict(out["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions, tags and aliases."""
        self._call(ops.DELETE_REGISTERED_MODEL, s.Name(name=name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of models, e.g. ``filter_string="name LIKE 'fraud%' AND tags.team = 'risk'"``."""
        req = s.SearchRegisteredModels(filter=filter_string or None, max_results=max_results,
                                       order_by=list(order_by or []), page_token=page_token or None)
        return _page(self._call(ops.SEARCH_REGISTERED_MODELS, req), "registered_models", RegisteredModel.from_dict)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage)."""
        out = self._call(ops.GET_LATEST_VERSIONS, s.GetLatestVersions(name=name, stages=list(stages or [])))
        return [ModelVersion.from_dict(v) for v in out.get("model_versions", [])]

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._call(ops.SET_REGISTERED_MODEL_TAG, s.SetRegisteredModelTag(name=name, key=key, value=_str(value)))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call(ops.DELETE_REGISTERED_MODEL_TAG, s.DeleteRegisteredModelTag(name=name, key=key))

    # ---- aliases --------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` (``champion``, ``challenger``…) at a version, moving it if it exists."""
        req = s.SetRegisteredModelAlias(name=name, alias=alias, version=str(version))
        self._call(ops.SET_REGISTERED_MODEL_ALIAS, req)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call(ops.DELETE_REGISTERED_MODEL_ALIAS, s.Alias(name=name, alias=alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        out = self._call(ops.GET_MODEL_VERSION_BY_ALIAS, s.Alias(name=name, alias=alias))
        return ModelVersion.from_dict(out["model_version"])

    def resolve_model_version(self, uri: str) -> ModelVersion:
        """The version a ``models:/name@alias``, ``models:/name/3`` or ``models:/name/<stage|latest>`` URI names."""
        name, ref, by_alias = parse_models_uri(uri)
        if by_alias or ref.lower() == "latest":
            return self.get_model_version_by_alias(name, ref)
        if ref.isdigit():
            return self.get_model_version(name, ref)
        latest = self.get_latest_versions(name, [ref])
        if not latest:
            raise ResourceDoesNotExist(f"No versions of model with name '{name}' and stage '{ref}' found")
        return latest[0]

    # ---- model versions -------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name`` (ready at once: ``await_creation_for`` is unused)."""
        req = s.CreateModelVersion(name=name, source=source, run_id=run_id, tags=_kv(tags), run_link=run_link,
                                   description=description, model_id=model_id)
        return ModelVersion.from_dict(self._call(ops.CREATE_MODEL_VERSION, req)["model_version"])

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        out = self._call(ops.GET_MODEL_VERSION, s.Version(name=name, version=str(version)))
        return ModelVersion.from_dict(out["model_version"])

    def update_model_version(self, name: str, version: str | int, description: str | None = None) -> ModelVersion:
        req = s.UpdateModelVersion(name=name, version=str(version), description=description)
        return ModelVersion.from_dict(self._call(ops.UPDATE_MODEL_VERSION, req)["model_version"])

    def delete_model_version(self, name: str, version: str | int) -> None:
        self._call(ops.DELETE_MODEL_VERSION, s.Version(name=name, version=str(version)))

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (optionally archiving the stage's others)."""
        req = s.TransitionModelVersionStage(name=name, version=str(version), stage=stage,
                                            archive_existing_versions=archive_existing_versions)
        return ModelVersion.from_dict(self._call(ops.TRANSITION_MODEL_VERSION_STAGE, req)["model_version"])

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        out = self._call(ops.GET_MODEL_VERSION_DOWNLOAD_URI, s.Version(name=name, version=str(version)))
        return str(out.get("artifact_uri", ""))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of versions, e.g. ``filter_string="name = 'fraud' AND run_id IN ('a1b2')"``."""
        req = s.SearchModelVersions(filter=filter_string or None, max_results=max_results,
                                    order_by=list(order_by or []), page_token=page_token or None)
        return _page(self._call(ops.SEARCH_MODEL_VERSIONS, req), "model_versions", ModelVersion.from_dict)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        req = s.SetModelVersionTag(name=name, version=str(version), key=key, value=_str(value))
        self._call(ops.SET_MODEL_VERSION_TAG, req)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self._call(ops.DELETE_MODEL_VERSION_TAG, s.DeleteModelVersionTag(name=name, version=str(version), key=key))

    # ---- audit trail (our extension) ------------------------------------------

    def registry_audit(self, name: str) -> list[RegistryAuditEntry]:
        """Every recorded change to model ``name``, oldest first: who, when, what, old and new value."""
        entries: list[RegistryAuditEntry] = []
        token = None
        while True:
            out = self._call(ops.REGISTRY_AUDIT, s.RegistryAudit(name=name, max_results=1000, page_token=token))
            page = _page(out, "entries", RegistryAuditEntry.from_dict)
            entries.extend(page.items)
            token = page.next_page_token
            if not token:
                return entries

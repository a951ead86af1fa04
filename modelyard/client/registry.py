"""Registry methods of ``Client``, named and shaped as ``MlflowClient``'s.

>>> c = my.Client()
>>> c.create_registered_model("fraud")
>>> mv = c.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
>>> c.set_registered_model_alias("fraud", "champion", mv.version)
>>> c.get_model_version_by_alias("fraud", "champion").version
'1'
"""

from __future__ import annotations

from typing import Any

from ..entities import PagedList
from ..entities.registry import ModelVersion, RegisteredModel, RegistryAuditEntry
from ..errors import ResourceDoesNotExist
from ..service.models_uri import parse_models_uri


def _strs(d: dict[str, Any] | None) -> dict[str, str]:
    return {k: v if isinstance(v, str) else str(v) for k, v in (d or {}).items()}


class RegistryMethods:
    _t: Any

    # ---- registered models ----------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self._t.create_registered_model(name, _strs(tags), description)  # type: ignore[no-any-return]

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._t.get_registered_model(name)  # type: ignore[no-any-return]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._t.rename_registered_model(name, new_name)  # type: ignore[no-any-return]

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self._t.update_registered_model(name, description)  # type: ignore[no-any-return]

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions, tags and aliases."""
        self._t.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of models, e.g. ``filter_string="name LIKE 'fraud%' AND tags.team = 'risk'"``."""
        return self._t.search_registered_models(filter_string, max_results, order_by, page_token)  # type: ignore[no-any-return]

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage)."""
        return self._t.get_latest_versions(name, stages)  # type: ignore[no-any-return]

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._t.set_registered_model_tag(name, key, value if isinstance(value, str) else str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._t.delete_registered_model_tag(name, key)

    # ---- aliases --------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` (``champion``, ``challenger``…) at a version, moving it if it exists."""
        self._t.set_registered_model_alias(name, alias, str(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._t.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._t.get_model_version_by_alias(name, alias)  # type: ignore[no-any-return]

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
        return self._t.create_model_version(  # type: ignore[no-any-return]
            name, source, run_id, _strs(tags), run_link, description, model_id)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self._t.get_model_version(name, str(version))  # type: ignore[no-any-return]

    def update_model_version(self, name: str, version: str | int, description: str | None = None) -> ModelVersion:
        return self._t.update_model_version(name, str(version), description)  # type: ignore[no-any-return]

    def delete_model_version(self, name: str, version: str | int) -> None:
        self._t.delete_model_version(name, str(version))

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (optionally archiving the stage's others)."""
        return self._t.transition_model_version_stage(  # type: ignore[no-any-return]
            name, str(version), stage, archive_existing_versions)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self._t.get_model_version_download_uri(name, str(version))  # type: ignore[no-any-return]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of versions, e.g. ``filter_string="name = 'fraud' AND run_id IN ('a1b2')"``."""
        return self._t.search_model_versions(filter_string, max_results, order_by, page_token)  # type: ignore[no-any-return]

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self._t.set_model_version_tag(name, str(version), key, value if isinstance(value, str) else str(value))

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self._t.delete_model_version_tag(name, str(version), key)

    # ---- audit trail (our extension) ------------------------------------------

    def registry_audit(self, name: str) -> list[RegistryAuditEntry]:
        """Every recorded change to model ``name``, oldest first: who, when, what, old and new value."""
        entries: list[RegistryAuditEntry] = []
        token = None
        while True:
            page = self._t.registry_audit(name, 1000, token)
            entries.extend(page.items)
            token = page.next_page_token
            if not token:
                return entries

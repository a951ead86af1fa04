"""Model registry rules: names, versions, aliases, stages, search, audit trail.

Limits, messages and error codes follow MLflow 3.17.2 (``utils/validation.py``,
the registry SQL store and ``server/handlers.py``). Every change is recorded
with the acting user: the server sets :data:`acting_user` per request; in
process it is the operating-system user.

>>> svc.registry.create_registered_model("fraud")
>>> mv = svc.registry.create_model_version("fraud", f"runs:/{run_id}/model", run_id)
>>> svc.registry.set_registered_model_alias("fraud", "champion", mv.version)
>>> svc.registry.resolve("models:/fraud@champion").version
'1'
"""

from __future__ import annotations

import contextvars
import posixpath
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..entities import PagedList, prompts
from ..entities.registry import ModelVersion, RegisteredModel, Stage
from ..errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.registry import RegistryStore
from ..store.registry_search import PROMPT_TAG
from . import limits
from .caller import current_workspace, visibility, workspace_to_create_in
from .experiments import now_ms
from .models_uri import parse_models_uri as parse_models_uri
from .registry_search import (
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from .registry_sources import SourceChecks
from .runs import RunService, _user
from .search import decode_page_token, encode_page_token

MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_MODEL_NAME_LENGTH = 256
SEARCH_MODELS_DEFAULT, SEARCH_MODELS_MAX = 100, 1000
SEARCH_VERSIONS_DEFAULT, SEARCH_VERSIONS_MAX = 10_000, 200_000
MAX_AUDIT_PAGE = 10_000

_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
_UNSET = object()

# A registered-model tag: the model's protected aliases, comma-separated. Only set_protected_alias
# (MANAGE on the model) writes it; while an alias is listed, no one moves or removes it.
PROTECTED_ALIASES_TAG = "modelyard.protected_aliases"

acting_user: contextvars.ContextVar[Any] = contextvars.ContextVar("modelyard_acting_user", default=_UNSET)
"""Who is changing the registry: set by the server per request (``None`` when anonymous)."""


def _who() -> str | None:
    user = acting_user.get()
    return _user() if user is _UNSET else user


def check_model_name(name: Any, path: str = "name") -> str:
    if name is None or not isinstance(name, str) or name.strip() == "":
        raise InvalidParameterValue(limits.missing_value(path))
    if "/" in name or ":" in name:
        raise InvalidParameterValue(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        raise InvalidParameterValue(limits.invalid_value(
            path, name, "Names may be treated as files in certain cases, and must not resolve to other names"
            f" when treated as such. This name would resolve to {norm!r}"))
    limits.check_length(path, name, MAX_MODEL_NAME_LENGTH)
    return name


def check_version(version: Any) -> int:
    if version is None or version == "":
        raise InvalidParameterValue(limits.missing_value("version"))
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got '{version}'.") from None
    return limits.check_int64(number, "version")


def check_alias(alias: Any, *, setting: bool = False) -> str:
    if alias is None or alias == "":
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).")
    limits.check_length("Registered model alias name", alias, MAX_ALIAS_LENGTH)
    if setting and alias.lower() == "latest":
        raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
    if setting and _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def _not_protection_tag(key: str) -> None:
    if key == PROTECTED_ALIASES_TAG:
        raise PermissionDenied(
            f"Tag '{PROTECTED_ALIASES_TAG}' lists the model's protected aliases: change it with"
            " `modelyard permissions protect-alias` (MANAGE on the model), not as a tag.")


def _protected(name: str, alias: str, what: str) -> PermissionDenied:
    return PermissionDenied(
        f"Alias '{alias}' of registered model '{name}' is protected ({PROTECTED_ALIASES_TAG}): {what}, by anyone,"
        " admins included. Only promotion moves a protected alias; a model's manager can lift the protection"
        f" with `modelyard permissions unprotect-alias {name} {alias}`.")


def check_stage(stage: Any) -> str:
    canonical = {s.lower(): s for s in Stage.ALL}.get(str(stage or "").lower())
    if canonical is None:
        raise InvalidParameterValue(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(Stage.ALL)}.")
    return canonical


def check_tag(key: Any, value: Any) -> None:
    limits.check_name(key, "key", "Tag")
    if value is not None and not isinstance(value, str):
        raise InvalidParameterValue(limits.invalid_value("value", value, "Tag values must be strings."))
    limits.check_length("value", value, MAX_TAG_VALUE_LENGTH)


def _page(items: list[Any], offset: int, max_results: int) -> PagedList:
    token = encode_page_token(offset + max_results) if len(items) > max_results else None
    return PagedList(items[:max_results], token)


def _asks_for_prompts(filters: list[Any]) -> tuple[bool, list[Any]]:
    """MLflow hides prompts unless the filter asks for them; other is_prompt tests are dropped."""
    for f in filters:
        if f.kind == "tag" and f.key == PROMPT_TAG:
            value = str(f.value).lower()
            if (f.op == "=" and value == "true") or (f.op == "!=" and value == "false"):
                return True, filters
    return False, [f for f in filters if not (f.kind == "tag" and f.key == PROMPT_TAG)]


class RegistryService(SourceChecks):
    """Registered models, versions, tags, aliases and legacy stages, as MLflow's registry."""

    def __init__(self, store: TrackingStore, runs: RunService) -> None:
        self.store = store
        self.runs = runs
        # Set by whoever owns logged models: model_id -> an object with
        # ``artifact_location`` and ``source_run_id`` (or None when unknown).
        self.logged_model_lookup: Callable[[str], Any] | None = None
        # Set by the same owner: told (model_id, name, version) of each version registered from a logged model.
        self.logged_model_registered: Callable[[str, str, int], None] | None = None

    @property
    def _r(self) -> RegistryStore:
        return self.store.registry

    # ---- registered models ----------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check_model_name(name)
        for key, value in (tags or {}).items():
            check_tag(key, value)
            _not_protection_tag(key)
        return self._r.create_model(name, description, dict(tags or {}), _who(), now_ms(),
                                    workspace_to_create_in(self.store))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._r.get_model(check_model_name(name))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        check_model_name(new_name, "new_name")
        return self._r.rename_model(check_model_name(name), new_name, _who(), now_ms())

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self._r.update_model(check_model_name(name), description, _who(), now_ms())

    def delete_registered_model(self, name: str) -> None:
        self._r.delete_model(check_model_name(name), _who(), now_ms())

    def set_registered_model_tag(self, name: str, key: str, value: str | None) -> None:
        check_model_name(name)
        check_tag(key, value)
        _not_protection_tag(key)
        self._r.set_model_tag(name, key, value, _who(), now_ms())

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        check_model_name(name)
        limits.check_name(key, "key", "Tag")
        _not_protection_tag(key)
        self._r.delete_model_tag(name, key, _who(), now_ms())

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODELS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        limits.check_max_results(max_results, SEARCH_MODELS_MAX)
        prompts, filters = _asks_for_prompts(parse_registered_model_filter(filter_string))
        order = parse_registered_model_order_by(order_by)
        offset = decode_page_token(page_token)
        return _page(self._r.search_models(filters, order, max_results + 1, offset, prompts, visibility(),
                                           current_workspace()), offset, max_results)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        wanted = [check_stage(s) for s in stages] if stages else list(Stage.ALL)
        return self._r.latest_versions(check_model_name(name), wanted)

    # ---- model versions -------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the model's next version (status READY: registration is synchronous)."""
        check_model_name(name)
        if not source or not isinstance(source, str):
            raise InvalidParameterValue(limits.missing_value("source"))
        for key, value in (tags or {}).items():
            check_tag(key, value)
        run_id, model_id = run_id or None, model_id or None
        if prompts.is_prompt(tags or {}):  # a prompt version: a placeholder source, no artifacts
            source, storage = self._check_prompt_source(source), None
        else:
            source, run_id, model_id, storage = self._check_source(source, run_id, model_id)
        version = self._r.create_version(
            name, source=source, storage_location=storage, run_id=run_id, run_link=run_link or None,
            description=description, model_id=model_id, tags=dict(tags or {}), who=_who(), now=now_ms(),
        )
        if model_id and self.logged_model_registered is not None:
            self.logged_model_registered(model_id, version.name, int(version.version))
        return version

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self._r.get_version(check_model_name(name), check_version(version))

    def update_model_version(self, name: str, version: str | int, description: str | None) -> ModelVersion:
        return self._r.update_version(check_model_name(name), check_version(version), description, _who(), now_ms())

    def delete_model_version(self, name: str, version: str | int) -> None:
        model = self._r.get_model(check_model_name(name))
        for alias in self.protected_aliases(name) + self.workspace_protected(name):
            if model.aliases.get(alias) == str(check_version(version)):
                raise self._protected(name, alias, f"version {version} carries it, so the version cannot be deleted")
        self._r.delete_version(check_model_name(name), check_version(version), _who(), now_ms())

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        canonical = check_stage(stage)
        if archive_existing_versions and canonical not in Stage.ACTIVE:
            raise InvalidParameterValue(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are {list(Stage.ACTIVE)}")
        return self._r.transition_stage(check_model_name(name), check_version(version), canonical,
                                        bool(archive_existing_versions), _who(), now_ms())

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        row = self._r.version_locations(check_model_name(name), check_version(version))
        return row.storage_location or row.source or ""

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        check_model_name(name)
        number = check_version(version)
        check_tag(key, value)
        self._r.set_version_tag(name, number, key, value, _who(), now_ms())

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        check_model_name(name)
        number = check_version(version)
        limits.check_name(key, "key", "Tag")
        self._r.delete_version_tag(name, number, key, _who(), now_ms())

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_VERSIONS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        limits.check_max_results(max_results, SEARCH_VERSIONS_MAX)
        prompts, filters = _asks_for_prompts(parse_model_version_filter(filter_string))
        order = parse_model_version_order_by(order_by)
        offset = decode_page_token(page_token)
        # Versions of the request's workspace only: a model's name may repeat in another (MLflow 3.17's too).
        return _page(self._r.search_versions(filters, order, max_results + 1, offset, prompts, visibility(),
                                             current_workspace()), offset, max_results)

    # ---- aliases and models:/ URIs --------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        check_model_name(name)
        check_alias(alias, setting=True)
        if alias in self.protected_aliases(name) or alias in self.workspace_protected(name):
            raise self._protected(name, alias, "it cannot be set")
        self._r.set_alias(name, alias, check_version(version), _who(), now_ms())

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        check_model_name(name)
        if check_alias(alias) in self.protected_aliases(name) or alias in self.workspace_protected(name):
            raise self._protected(name, alias, "it cannot be deleted")
        self._r.delete_alias(name, alias, _who(), now_ms())

    # The aliases protected on every model of the workspace model ``name`` belongs to (set by TrackingService).
    workspace_protected: Callable[[str], list[str]] = staticmethod(lambda name: [])
    # The workspace of model ``name`` (set by TrackingService).
    workspace_of: Callable[[str], str | None] = staticmethod(lambda name: None)

    def _protected(self, name: str, alias: str, what: str) -> PermissionDenied:
        if alias in self.protected_aliases(name):
            return _protected(name, alias, what)
        workspace = self.workspace_of(name)
        return PermissionDenied(
            f"Alias '{alias}' is protected on every registered model of workspace '{workspace}': {what}, by anyone,"
            " admins included. Only promotion moves a protected alias; the workspace's manager can lift the"
            f" protection with `modelyard workspaces unprotect-alias {workspace} {alias}`.")

    def protected_aliases(self, name: str) -> list[str]:
        """The aliases of model ``name`` that no one may set or delete (see :data:`PROTECTED_ALIASES_TAG`)."""
        value = self._r.get_model(check_model_name(name)).tags.get(PROTECTED_ALIASES_TAG) or ""
        return [a for a in value.split(",") if a]

    def set_protected_alias(self, name: str, alias: str, protected: bool = True) -> list[str]:
        """Protect ``alias`` of model ``name`` (or lift the protection); the model's protected aliases after."""
        check_alias(alias)
        aliases = [a for a in self.protected_aliases(name) if a != alias] + ([alias] if protected else [])
        if aliases:
            self._r.set_model_tag(name, PROTECTED_ALIASES_TAG, ",".join(sorted(aliases)), _who(), now_ms())
        elif PROTECTED_ALIASES_TAG in self._r.get_model(name).tags:
            self._r.delete_model_tag(name, PROTECTED_ALIASES_TAG, _who(), now_ms())
        return sorted(aliases)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        check_model_name(name)
        check_alias(alias)
        if alias.lower() == "latest":
            latest = self.get_latest_versions(name)
            if not latest:
                raise ResourceDoesNotExist(f"Latest version not found for model {name}.")
            return max(latest, key=lambda mv: int(mv.version))
        found = self._r.version_by_alias(name, alias)
        if found is None:
            raise InvalidParameterValue(f"Registered model alias {alias} not found.")
        return found

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names: ``models:/name@alias``, ``models:/name/3``,
        ``models:/name/Production`` (newest in that stage) or ``models:/name/latest``."""
        name, ref, by_alias = parse_models_uri(uri)
        if by_alias:
            return self.get_model_version_by_alias(name, ref)
        if ref.isdigit():
            return self.get_model_version(name, ref)
        if ref.lower() == "latest":
            return self.get_model_version_by_alias(name, "latest")
        latest = self.get_latest_versions(name, [ref])
        if not latest:
            raise ResourceDoesNotExist(f"No versions of model with name '{name}' and stage '{ref}' found")
        return latest[0]

    def download_uri(self, uri: str) -> str:
        """Where the artifacts of the version a ``models:/`` URI names are."""
        mv = self.resolve(uri)
        return self.get_model_version_download_uri(mv.name, mv.version)

    def audit(self, name: str, max_results: int = 1000, page_token: str | None = None) -> PagedList:
        """The recorded changes to every model ever called ``name``, oldest first (across renames, after deletion)."""
        check_model_name(name)
        limits.check_max_results(max_results, MAX_AUDIT_PAGE)
        offset = decode_page_token(page_token)
        return _page(self._r.audit(name, max_results + 1, offset), offset, max_results)

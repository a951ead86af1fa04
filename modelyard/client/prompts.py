"""Prompt methods of ``Client`` and the fluent ``my.register_prompt`` / ``my.load_prompt``.

Prompts live in the model registry exactly as MLflow 3.17 keeps them (see
:mod:`modelyard.entities.prompts`), so prompts registered here load with
``mlflow.genai.load_prompt`` and the other way round.

>>> my.register_prompt("qa", "Answer {{question}} briefly.", commit_message="first")
>>> my.set_prompt_alias("qa", "production", 1)
>>> my.load_prompt("prompts:/qa@production").format(question="why?")
'Answer why? briefly.'

Loading a prompt inside an active run records it on the run (tag ``mlflow.linkedPrompts``);
inside a trace, on the trace (and the server links the two, searchable with ``prompt = 'qa/1'``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..entities import PagedList
from ..entities import prompts as p
from ..entities.prompts import PromptVersion, Template
from ..entities.registry import ModelVersion, RegisteredModel
from ..errors import InvalidParameterValue, ResourceDoesNotExist

_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
_URI = re.compile(r"^prompts:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[\w\-]+))$")

# Told of each prompt version loaded (the tracer links it to the current trace).
loaded_hooks: list[Callable[[PromptVersion], None]] = []


def parse_prompt_uri(name_or_uri: str, version: str | int | None = None) -> tuple[str, str]:
    """(name, version or alias) from ``prompts:/name/3``, ``prompts:/name@alias``, or a name and ``version``."""
    if name_or_uri.startswith("prompts:/"):
        if version is not None:
            raise InvalidParameterValue(f"Pass the version in the URI or as `version`, not both: {name_or_uri!r}.")
        m = _URI.match(name_or_uri)
        if m is None:
            raise InvalidParameterValue(
                f"Invalid prompt URI {name_or_uri!r}: write prompts:/<name>/<version> or prompts:/<name>@<alias>.")
        return m["name"], m["version"] or m["alias"]
    return name_or_uri, "latest" if version is None else str(version)


def _is_prompt_model(model: RegisteredModel) -> bool:
    return p.is_prompt(model.tags)


class PromptsMethods:
    """Prompt registry calls of :class:`~modelyard.Client`, over its registry methods."""

    get_registered_model: Callable[..., RegisteredModel]
    create_registered_model: Callable[..., RegisteredModel]
    set_registered_model_tag: Callable[..., None]
    delete_registered_model: Callable[..., None]
    create_model_version: Callable[..., ModelVersion]
    get_model_version: Callable[..., ModelVersion]
    get_model_version_by_alias: Callable[..., ModelVersion]
    delete_model_version: Callable[..., None]
    search_registered_models: Callable[..., PagedList]
    search_model_versions: Callable[..., PagedList]
    set_registered_model_alias: Callable[..., None]
    delete_registered_model_alias: Callable[..., None]

    def register_prompt(
        self, name: str, template: Template, commit_message: str | None = None, tags: dict[str, str] | None = None,
        response_format: dict[str, Any] | None = None, model_config: dict[str, Any] | None = None,
    ) -> PromptVersion:
        """A new version of prompt ``name`` (the prompt is created with its first version).

        ``template`` is text with ``{{variables}}`` or a chat: a list of ``{"role", "content"}`` messages.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidParameterValue(
                f"Invalid prompt name {name!r}: use letters, digits, '_', '-' and '.' only.")
        if not isinstance(template, (str, list)) or (isinstance(template, list) and not all(
                isinstance(m, dict) and "role" in m and "content" in m for m in template)):
            raise InvalidParameterValue(
                "Invalid prompt template: pass a string, or a list of {'role': ..., 'content': ...} messages.")
        user_tags = {k: str(v) for k, v in (tags or {}).items()}
        try:
            model = self.get_registered_model(name)
        except ResourceDoesNotExist:
            self.create_registered_model(name, {p.IS_PROMPT_TAG: "true", **user_tags}, commit_message)
            new = True
        else:
            if not _is_prompt_model(model):
                raise InvalidParameterValue(
                    f"Model '{name}' exists with the same name: a prompt cannot share a registered model's name."
                    " Choose another name for the prompt.")
            for key, value in user_tags.items():
                self.set_registered_model_tag(name, key, value)
            new = False
        version_tags = {**user_tags, **p.template_tags(template)}
        if response_format is not None:
            version_tags[p.RESPONSE_FORMAT_TAG] = json.dumps(response_format)
        if model_config is not None:
            version_tags[p.MODEL_CONFIG_TAG] = json.dumps(model_config)
        try:
            mv = self.create_model_version(name, p.PROMPT_SOURCE, tags=version_tags, description=commit_message)
        except Exception:
            if new:  # no prompt without a version
                self.delete_registered_model(name)
            raise
        return PromptVersion.from_model_version(mv)

    def get_prompt_version(self, name: str, version: str | int) -> PromptVersion:
        """Version ``version`` (a number, an alias or ``latest``) of prompt ``name``."""
        model = self.get_registered_model(name)
        if not _is_prompt_model(model):
            raise InvalidParameterValue(
                f"Name '{name}' is registered as a model, not a prompt: load it with load_model or get_model_version.")
        ref = str(version)
        mv = self.get_model_version(name, ref) if ref.isdigit() else self.get_model_version_by_alias(name, ref)
        return PromptVersion.from_model_version(mv)

    def load_prompt(self, name_or_uri: str, version: str | int | None = None) -> PromptVersion:
        """A prompt version by URI (``prompts:/qa/2``, ``prompts:/qa@production``) or name and version."""
        name, ref = parse_prompt_uri(name_or_uri, version)
        return self.get_prompt_version(name, ref)

    def search_prompts(self, filter_string: str | None = None, max_results: int = 100,
                       page_token: str | None = None) -> PagedList:
        """One page of prompts (registered models that are prompts), e.g. ``"name LIKE 'qa%'"``."""
        where = f"tags.`{p.IS_PROMPT_TAG}` = 'true'" + (f" AND {filter_string}" if filter_string else "")
        return self.search_registered_models(where, max_results=max_results, page_token=page_token)

    def search_prompt_versions(self, name: str, max_results: int = 100, page_token: str | None = None) -> PagedList:
        """The versions of prompt ``name``, newest first."""
        page = self.search_model_versions(f"name = '{name}' AND tags.`{p.IS_PROMPT_TAG}` = 'true'",
                                          max_results=max_results, order_by=["version_number DESC"],
                                          page_token=page_token)
        return PagedList([PromptVersion.from_model_version(mv) for mv in page], page.token)

    def set_prompt_alias(self, name: str, alias: str, version: str | int) -> None:
        self.get_prompt_version(name, version)  # a prompt's existing version, or a clear error
        self.set_registered_model_alias(name, alias, version)

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        self.delete_registered_model_alias(name, alias)

    def delete_prompt_version(self, name: str, version: str | int) -> None:
        self.get_prompt_version(name, version)
        self.delete_model_version(name, version)

    def delete_prompt(self, name: str) -> None:
        """Delete prompt ``name`` with all its versions."""
        if not _is_prompt_model(self.get_registered_model(name)):
            raise InvalidParameterValue(f"Name '{name}' is registered as a model, not a prompt: not deleted.")
        self.delete_registered_model(name)


def linked_prompts_tag(current: str | None, version: PromptVersion) -> str:
    """The ``mlflow.linkedPrompts`` tag value (JSON list of ``{"name", "version"}``) with ``version`` added."""
    try:
        entries = json.loads(current) if current else []
    except ValueError:
        entries = []
    entry = {"name": version.name, "version": str(version.version)}
    if entry not in entries:
        entries.append(entry)
    return json.dumps(entries)


# ---- the fluent API (``my.register_prompt``...) ---------------------------------


def register_prompt(name: str, template: Template, commit_message: str | None = None,
                    tags: dict[str, str] | None = None, response_format: dict[str, Any] | None = None,
                    model_config: dict[str, Any] | None = None) -> PromptVersion:
    """Register a new version of prompt ``name`` in the current tracking store (see ``Client.register_prompt``)."""
    from .fluent import get_client

    return get_client().register_prompt(name, template, commit_message, tags, response_format, model_config)


def load_prompt(name_or_uri: str, version: str | int | None = None) -> PromptVersion:
    """Load a prompt version; inside an active run it is linked to the run, inside a trace to the trace."""
    from .fluent import active_run, get_client

    client = get_client()
    pv = client.load_prompt(name_or_uri, version)
    run = active_run()
    if run is not None:
        current = client.get_run(run.info.run_id).data.tags.get(p.LINKED_PROMPTS_TAG)
        updated = linked_prompts_tag(current, pv)
        if updated != current:
            client.set_tag(run.info.run_id, p.LINKED_PROMPTS_TAG, updated)
    for hook in loaded_hooks:
        hook(pv)
    return pv


def search_prompts(filter_string: str | None = None, max_results: int = 100) -> PagedList:
    from .fluent import get_client

    return get_client().search_prompts(filter_string, max_results)


def set_prompt_alias(name: str, alias: str, version: str | int) -> None:
    from .fluent import get_client

    get_client().set_prompt_alias(name, alias, version)


def delete_prompt_alias(name: str, alias: str) -> None:
    from .fluent import get_client

    get_client().delete_prompt_alias(name, alias)

"""Which sources a model version may point at: MLflow 3.17.2's checks of ``source``, ``run_id`` and ``model_id``.

A local path must lie inside the run's artifact directory; a ``runs:/`` or
``mlflow-artifacts:`` source must belong to the run named; ``models:/`` names
a logged model or another version; no source may climb out with ``..``. An
operator may demand more: every source must match ``source_regex`` (MLflow's
``MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX``), checked first.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..entities.prompts import PROMPT_SOURCES
from ..entities.registry import ModelVersion
from ..errors import InvalidParameterValue, ResourceDoesNotExist


def source_pattern(regex: str) -> re.Pattern[str] | None:
    """The operator's source pattern (``create_model_version_source_validation_regex``), compiled; None if unset."""
    if not regex:
        return None
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ValueError(
            f"MODELYARD_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX (or MLflow's variable) is not a valid"
            f" regular expression: {exc}. Fix or unset it.") from None


class SourceChecks:
    """The source checks of :class:`~modelyard.service.registry.RegistryService` (a base class of it)."""

    runs: Any
    source_regex: re.Pattern[str] | None = None
    logged_model_lookup: Callable[[str], Any] | None
    resolve: Callable[[str], ModelVersion]
    get_model_version_download_uri: Callable[[str, str | int], str]

    def _check_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None, str | None]:
        """MLflow's checks of a version source; returns (source, run_id, model_id, storage location)."""
        if self.source_regex is not None and not self.source_regex.search(source):
            raise InvalidParameterValue(f"Invalid model version source: '{source}'.")
        parsed = urllib.parse.urlparse(source)
        if parsed.scheme == "models":
            return self._models_source(source, parsed, run_id, model_id)
        if parsed.scheme in ("", "file"):
            if not run_id:
                raise _local_source_error(source, "run_id")
            run_root = self._run_root(source, run_id)
            path = posixpath.normpath(urllib.parse.unquote(parsed.path))
            if run_root is None or not (path == run_root or path.startswith(run_root.rstrip("/") + "/")):
                raise _local_source_error(source, "run_id")
            return source, run_id, model_id, source
        _check_no_relative_parts(source)
        if parsed.scheme == "runs":
            if parsed.netloc or not run_id or parsed.path.lstrip("/").split("/", 1)[0] != run_id:
                raise _source_error(source, "run_id")
        elif parsed.scheme == "mlflow-artifacts" and run_id:
            run = self._source_run(source, run_id)
            root = urllib.parse.urlparse(run.info.artifact_uri)
            if root.scheme != "mlflow-artifacts" or not _within(parsed.path, root.path):
                raise _source_error(source, "run_id")
        elif parsed.scheme == "mlflow-artifacts" and not model_id:
            raise _source_error(source, "run_id")
        if model_id and not run_id:
            run_id = (self._logged_model(model_id) or (None, None))[1]
        return source, run_id, model_id, source

    def _check_prompt_source(self, source: str) -> str:
        """A prompt version's source: one of MLflow's placeholders (a prompt has no artifacts)."""
        if self.source_regex is not None and not self.source_regex.search(source):
            raise InvalidParameterValue(f"Invalid model version source: '{source}'.")
        if source not in PROMPT_SOURCES:
            raise InvalidParameterValue(
                f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder"
                f" ({' or '.join(repr(s) for s in sorted(PROMPT_SOURCES))}): a prompt version holds its template in"
                " its tags, not in artifacts.")
        return source

    def _models_source(
        self, source: str, parsed: urllib.parse.ParseResult, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None, str | None]:
        if parsed.netloc:
            raise InvalidParameterValue(
                f"Invalid model version source: '{source}'. Registered model sources must use the "
                "active model registry.")
        ref = parsed.path.lstrip("/")
        if "/" not in ref and "@" not in ref:  # models:/<model_id>, a logged model
            if not model_id or ref != model_id:
                raise _source_error(source, "model_id")
            found = self._logged_model(model_id)
            if found is None:
                raise _source_error(source, "model_id")
            location, source_run = found
            return source, run_id or source_run, model_id, location or source
        mv = self.resolve(source)
        if (run_id and run_id != (mv.run_id or "")) or (model_id and model_id != (mv.model_id or "")):
            raise InvalidParameterValue(
                f"Invalid model version source: '{source}'. The run_id and model_id request "
                "parameters must match the referenced model version.")
        storage = self.get_model_version_download_uri(mv.name, mv.version)
        return f"models:/{mv.name}/{mv.version}", mv.run_id, mv.model_id, storage

    def _logged_model(self, model_id: str) -> tuple[str | None, str | None] | None:
        """(artifact location, source run id) of a logged model; None if it does not exist."""
        if self.logged_model_lookup is None:  # nobody wired logged models in: trust the caller
            return None, None
        try:
            model = self.logged_model_lookup(model_id)
        except ResourceDoesNotExist:
            return None
        if model is None:
            return None
        return getattr(model, "artifact_location", None), getattr(model, "source_run_id", None)

    def _source_run(self, source: str, run_id: str):  # type: ignore[no-untyped-def]
        try:
            return self.runs.get(run_id)
        except (ResourceDoesNotExist, InvalidParameterValue):
            raise _source_error(source, "run_id") from None

    def _run_root(self, source: str, run_id: str) -> str | None:
        root = urllib.parse.urlparse(self._source_run(source, run_id).info.artifact_uri)
        return posixpath.normpath(urllib.parse.unquote(root.path)) if root.scheme in ("", "file") else None


def _within(path: str, root: str) -> bool:
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    root_parts = [urllib.parse.unquote(p) for p in root.split("/") if p]
    return bool(root_parts) and parts[: len(root_parts)] == root_parts


def _check_no_relative_parts(source: str) -> None:
    text = source
    while (unquoted := urllib.parse.unquote_plus(text)) != text:
        text = unquoted
    if "\x00" in text or any(part == ".." for part in text.split("/")):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. If supplying a source as an http, https, "
            "local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
            "provided without relative path references present. Please provide an absolute path.")


def _source_error(source: str, id_name: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model version source: '{source}'. The {id_name} request parameter must "
        "identify the resource that contains the source.")


def _local_source_error(source: str, id_name: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model version source: '{source}'. To use a local path as a model version "
        f"source, the {id_name} request parameter has to be specified and the local path has to be "
        f"contained within the artifact directory of the run specified by the {id_name}.")

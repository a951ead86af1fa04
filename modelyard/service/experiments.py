"""Experiment rules: names, lifecycle, tags, search."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..entities import Experiment, LifecycleStage, PagedList, ViewType
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from . import limits
from .caller import current_workspace, visibility, workspace_to_create_in
from .search import (
    decode_page_token,
    encode_page_token,
    parse_experiment_filter,
    parse_experiment_order_by,
)

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"


def now_ms() -> int:
    return int(time.time() * 1000)


class ExperimentService:
    def __init__(
        self,
        store: TrackingStore,
        location_for: Callable[[int], str],
        check_location: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self.location_for = location_for
        self.check_location = check_location

    def ensure_default(self) -> None:
        if self.store.experiments.get(DEFAULT_EXPERIMENT_ID) is None:
            try:
                self.store.experiments.create(
                    DEFAULT_EXPERIMENT_NAME, self.location_for, {}, now_ms(), experiment_id=DEFAULT_EXPERIMENT_ID
                )
            except Exception:  # another process made it first
                if self.store.experiments.get(DEFAULT_EXPERIMENT_ID) is None:
                    raise

    def create(self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None) -> str:
        limits.check_experiment_name(name)
        tags = tags or {}
        for key, value in tags.items():
            limits.check_name(key, "tags.key", "Tag")
            limits.check_length("tags.value", value, limits.MAX_EXPERIMENT_TAG_VAL_LENGTH)
        if artifact_location is not None and not isinstance(artifact_location, str):
            raise InvalidParameterValue("'artifact_location' must be a string URI.")
        if artifact_location and self.check_location is not None:
            self.check_location(artifact_location)
        location: Callable[[int], str] | str = artifact_location.rstrip("/") if artifact_location else self.location_for
        return self.store.experiments.create(name, location, tags, now_ms(), workspace=workspace_to_create_in(self.store))

    def get(self, experiment_id: str | int) -> Experiment:
        exp = self.store.experiments.get(limits.parse_experiment_id(experiment_id))
        if exp is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return exp

    def get_by_name(self, name: str) -> Experiment | None:
        if not name:
            raise InvalidParameterValue(limits.missing_value("experiment_name"))
        return self.store.experiments.get_by_name(name)

    def get_active(self, experiment_id: str | int) -> Experiment:
        exp = self.get(experiment_id)
        if exp.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {exp.lifecycle_stage}."
            )
        return exp

    def rename(self, experiment_id: str | int, new_name: str) -> None:
        limits.check_experiment_name(new_name)
        exp = self.get(experiment_id)
        if exp.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue("Cannot rename a non-active experiment.")
        self.store.experiments.rename(int(exp.experiment_id), new_name, now_ms())

    def delete(self, experiment_id: str | int) -> None:
        exp = self.get(experiment_id)
        if int(exp.experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameterValue(
                "Cannot delete the default experiment '0'. This is an internally reserved experiment."
            )
        self._set_lifecycle(int(exp.experiment_id), LifecycleStage.DELETED)

    def restore(self, experiment_id: str | int) -> None:
        exp = self.get(experiment_id)
        if exp.lifecycle_stage != LifecycleStage.DELETED:
            raise InvalidParameterValue(
                f"Cannot restore an experiment that is not deleted. Experiment {experiment_id} is {exp.lifecycle_stage}."
            )
        self._set_lifecycle(int(exp.experiment_id), LifecycleStage.ACTIVE)

    def _set_lifecycle(self, experiment_id: int, stage: str) -> None:
        """Delete or restore an experiment together with its runs, as MLflow does: one transaction."""
        now = now_ms()
        with self.store.db.unit_of_work():
            self.store.experiments.set_lifecycle(experiment_id, stage, now)
            self.store.runs.set_lifecycle_of_experiment(experiment_id, stage, now)

    def set_tag(self, experiment_id: str | int, key: str, value: str) -> None:
        limits.check_name(key, "key", "Tag")
        if not isinstance(value, str):
            raise InvalidParameterValue(limits.invalid_value("value", value, "Tag values must be strings."))
        limits.check_length("value", value, limits.MAX_EXPERIMENT_TAG_VAL_LENGTH)
        exp = self.get_active(experiment_id)
        self.store.experiments.set_tag(int(exp.experiment_id), key, value, now_ms())

    def delete_tag(self, experiment_id: str | int, key: str) -> None:
        exp = self.get_active(experiment_id)
        if not self.store.experiments.delete_tag(int(exp.experiment_id), key):
            raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")

    def search(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        limits.check_max_results(max_results, limits.MAX_RESULTS_SEARCH_EXPERIMENTS)
        if view_type not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
            raise InvalidParameterValue(
                f"Invalid view_type {view_type!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL."
            )
        filters = parse_experiment_filter(filter_string)
        order = parse_experiment_order_by(order_by)
        offset = decode_page_token(page_token)
        found = self.store.experiments_search(ViewType.stages(view_type), filters, order, max_results + 1, offset,
                                             visibility(), current_workspace())
        token = encode_page_token(offset + max_results) if len(found) > max_results else None
        return PagedList(found[:max_results], token)

"""LoggedModels methods of the in-process transport (they call the service)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.logged_models import LoggedModel, LoggedModelOutput


class LocalLoggedModels:
    service: Any

    def create_logged_model(
        self, experiment_id: str, name: str | None, source_run_id: str | None,
        tags: dict[str, str], params: dict[str, str], model_type: str | None,
    ) -> LoggedModel:
        return self.service.logged_models.create(experiment_id, name, source_run_id, tags, params, model_type)  # type: ignore[no-any-return]

    def get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        return self.service.logged_models.get(model_id, allow_deleted)  # type: ignore[no-any-return]

    def search_logged_models(
        self, experiment_ids: Sequence[str], filter_string: str | None, datasets: list[dict[str, Any]] | None,
        max_results: int | None, order_by: list[dict[str, Any]] | None, page_token: str | None,
    ) -> PagedList:
        return self.service.logged_models.search(  # type: ignore[no-any-return]
            experiment_ids, filter_string, datasets, max_results, order_by, page_token
        )

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self.service.logged_models.finalize(model_id, status)  # type: ignore[no-any-return]

    def delete_logged_model(self, model_id: str) -> None:
        self.service.logged_models.delete(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self.service.logged_models.set_tags(model_id, tags)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.service.logged_models.delete_tag(model_id, key)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self.service.logged_models.log_params(model_id, params)

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        self.service.logged_models.log_outputs(run_id, list(models))

"""LoggedModels methods of ``Client``, named as ``MlflowClient``'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import PagedList
from ..entities.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus

_PARAMS_PER_CALL = 100


def _strs(d: dict[str, Any] | None) -> dict[str, str]:
    return {k: v if isinstance(v, str) else str(v) for k, v in (d or {}).items()}


class LoggedModelsMethods:
    _t: Any

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new ``PENDING`` logged model in an experiment.

        >>> model = client.create_logged_model("1", name="model", params={"C": 1.0})
        >>> client.finalize_logged_model(model.model_id, "READY")
        """
        all_params = _strs(params)
        first = dict(list(all_params.items())[:_PARAMS_PER_CALL])
        model: LoggedModel = self._t.create_logged_model(
            str(experiment_id), name, source_run_id, _strs(tags), first, model_type
        )
        if len(all_params) > _PARAMS_PER_CALL:
            self.log_model_params(model.model_id, dict(list(all_params.items())[_PARAMS_PER_CALL:]))
            model = self.get_logged_model(model.model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self._t.get_logged_model(model_id, allow_deleted)  # type: ignore[no-any-return]

    def search_logged_models(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of models (a list; ``.token`` names the next page), e.g.
        ``search_logged_models(["1"], "metrics.acc > 0.9", order_by=[{"field_name": "metrics.acc", "ascending": False}])``.
        """
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else list(experiment_ids)
        return self._t.search_logged_models(  # type: ignore[no-any-return]
            [str(i) for i in ids], filter_string, datasets, max_results, order_by, page_token
        )

    def finalize_logged_model(self, model_id: str, status: str = LoggedModelStatus.READY) -> LoggedModel:
        """Mark a model ``READY`` or ``FAILED``."""
        return self._t.finalize_logged_model(model_id, status)  # type: ignore[no-any-return]

    def delete_logged_model(self, model_id: str) -> None:
        self._t.delete_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._t.set_logged_model_tags(model_id, _strs(tags))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._t.delete_logged_model_tag(model_id, key)

    def log_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        items = list(_strs(params).items())
        for start in range(0, len(items), _PARAMS_PER_CALL):
            self._t.log_logged_model_params(model_id, dict(items[start : start + _PARAMS_PER_CALL]))

    def log_model_artifacts(self, model_id: str, local_dir: str) -> None:
        """Upload a folder's files as the model's artifacts, as ``MlflowClient.log_model_artifacts``."""
        location = self.get_logged_model(model_id).artifact_location
        self._t.artifact_repository(location).log_dir(local_dir)

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record models as outputs of a run."""
        self._t.log_outputs(run_id, list(models))

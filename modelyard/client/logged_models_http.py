"""LoggedModels methods of the HTTP transport (MLflow REST API)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from ..entities import PagedList
from ..entities.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus

_MODELS = "/api/2.0/mlflow/logged-models"


def _kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in d.items()]


class HttpLoggedModels:
    send: Callable[..., dict[str, Any]]

    def _model_path(self, model_id: str) -> str:
        return f"{_MODELS}/{quote(model_id, safe='')}"

    def create_logged_model(
        self, experiment_id: str, name: str | None, source_run_id: str | None,
        tags: dict[str, str], params: dict[str, str], model_type: str | None,
    ) -> LoggedModel:
        body: dict[str, Any] = {"experiment_id": str(experiment_id), "tags": _kv(tags), "params": _kv(params)}
        for key, value in (("name", name), ("source_run_id", source_run_id), ("model_type", model_type)):
            if value is not None:
                body[key] = value
        return LoggedModel.from_dict(self.send("POST", _MODELS, body)["model"])

    def get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        params = {"allow_deleted": "true"} if allow_deleted else None
        return LoggedModel.from_dict(self.send("GET", self._model_path(model_id), params=params)["model"])

    def search_logged_models(
        self, experiment_ids: Sequence[str], filter_string: str | None, datasets: list[dict[str, Any]] | None,
        max_results: int | None, order_by: list[dict[str, Any]] | None, page_token: str | None,
    ) -> PagedList:
        body: dict[str, Any] = {"experiment_ids": [str(e) for e in experiment_ids],
                                "datasets": list(datasets or []), "order_by": list(order_by or [])}
        for key, value in (("filter", filter_string), ("max_results", max_results), ("page_token", page_token)):
            if value:
                body[key] = value
        out = self.send("POST", f"{_MODELS}/search", body)
        return PagedList([LoggedModel.from_dict(m) for m in out.get("models", [])], out.get("next_page_token") or None)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        body = {"model_id": model_id, "status": LoggedModelStatus.to_wire(LoggedModelStatus.parse(status))}
        return LoggedModel.from_dict(self.send("PATCH", self._model_path(model_id), body)["model"])

    def delete_logged_model(self, model_id: str) -> None:
        self.send("DELETE", self._model_path(model_id), {"model_id": model_id})

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self.send("PATCH", f"{self._model_path(model_id)}/tags", {"model_id": model_id, "tags": _kv(tags)})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.send("DELETE", f"{self._model_path(model_id)}/tags/{quote(key, safe='')}")

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self.send("POST", f"{self._model_path(model_id)}/params", {"model_id": model_id, "params": _kv(params)})

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        self.send("POST", "/api/2.0/mlflow/runs/outputs", {"run_id": run_id, "models": [m.to_dict() for m in models]})

"""LoggedModels methods of ``Client``, named as ``MlflowClient``'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ..api import logged_models as ops
from ..api import schemas_logged_models as s
from ..api.operations import Operation
from ..api.schemas import KeyValue
from ..entities import PagedList
from ..entities.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus
from .transport import Transport

_PARAMS_PER_CALL = 100


def _kv(d: dict[str, Any] | None) -> list[KeyValue]:
    return [KeyValue(key=k, value=v if isinstance(v, str) else str(v)) for k, v in (d or {}).items()]


class LoggedModelsMethods:
    _t: Transport
    _call: Callable[[Operation, msgspec.Struct], dict[str, Any]]

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
        all_params = _kv(params)
        req = s.CreateLoggedModel(experiment_id=str(experiment_id), name=name, model_type=model_type,
                                  source_run_id=source_run_id, params=all_params[:_PARAMS_PER_CALL], tags=_kv(tags))
        model = LoggedModel.from_dict(self._call(ops.CREATE_LOGGED_MODEL, req)["model"])
        if len(all_params) > _PARAMS_PER_CALL:
            self._log_params(model.model_id, all_params[_PARAMS_PER_CALL:])
            model = self.get_logged_model(model.model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        req = s.GetLoggedModel(model_id=model_id, allow_deleted=allow_deleted)
        return LoggedModel.from_dict(self._call(ops.GET_LOGGED_MODEL, req)["model"])

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
        req = msgspec.convert({"datasets": list(datasets or []), "order_by": list(order_by or [])}, s.SearchLoggedModels)
        req = msgspec.structs.replace(req, experiment_ids=[str(i) for i in ids], filter=filter_string or None,
                                      max_results=max_results or None, page_token=page_token or None)
        out = self._call(ops.SEARCH_LOGGED_MODELS, req)
        return PagedList([LoggedModel.from_dict(m) for m in out.get("models", ())], out.get("next_page_token") or None)

    def finalize_logged_model(self, model_id: str, status: str = LoggedModelStatus.READY) -> LoggedModel:
        """Mark a model ``READY`` or ``FAILED``."""
        req = s.FinalizeLoggedModel(model_id=model_id, status=LoggedModelStatus.to_wire(LoggedModelStatus.parse(status)))
        return LoggedModel.from_dict(self._call(ops.FINALIZE_LOGGED_MODEL, req)["model"])

    def delete_logged_model(self, model_id: str) -> None:
        self._call(ops.DELETE_LOGGED_MODEL, s.ModelId(model_id=model_id))

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._call(ops.SET_LOGGED_MODEL_TAGS, s.SetLoggedModelTags(model_id=model_id, tags=_kv(tags)))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._call(ops.DELETE_LOGGED_MODEL_TAG, s.DeleteLoggedModelTag(model_id=model_id, tag_key=key))

    def log_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        self._log_params(model_id, _kv(params))

    def _log_params(self, model_id: str, params: list[KeyValue]) -> None:
        for start in range(0, len(params), _PARAMS_PER_CALL):
            req = s.LogLoggedModelParams(model_id=model_id, params=params[start : start + _PARAMS_PER_CALL])
            self._call(ops.LOG_LOGGED_MODEL_PARAMS, req)

    def log_model_artifacts(self, model_id: str, local_dir: str) -> None:
        """Upload a folder's files as the model's artifacts, as ``MlflowClient.log_model_artifacts``."""
        location = self.get_logged_model(model_id).artifact_location
        self._t.artifact_repository(location).log_dir(local_dir)

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record models as outputs of a run."""
        req = s.LogOutputs(run_id=run_id, models=[s.ModelOutputIn(model_id=m.model_id, step=m.step) for m in models])
        self._call(ops.LOG_OUTPUTS, req)

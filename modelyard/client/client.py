"""``Client``: the whole tracking API as methods, local or over HTTP.

>>> import modelyard as my
>>> c = my.Client()                     # the resolved tracking URI
>>> exp_id = c.create_experiment("demo")
>>> run = c.create_run(exp_id, run_name="first")
>>> c.log_batch(run.info.run_id, metrics=[my.Metric("loss", 0.1, 0, 0)])
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import msgspec

from ..api import schemas as s
from ..api import tracking as ops
from ..api.operations import Operation
from ..entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    LoggedModelInput,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from ..errors import ResourceDoesNotExist
from .auth import AuthMethods
from .datasets import DatasetsMethods
from .inference import InferenceMethods
from .logged_models import LoggedModelsMethods
from .monitoring import MonitoringMethods
from .pipelines import PipelinesMethods
from .promotion import PromotionMethods
from .prompts import PromptsMethods
from .registry import RegistryMethods
from .traces import TracesMethods
from .uri import get_tracking_uri, is_http
from .usage import UsageMethods
from .values import plain_metric, plain_metrics
from .webhooks import WebhooksMethods

if TYPE_CHECKING:
    from .transport import Transport


def now_ms() -> int:
    return int(time.time() * 1000)


class Client(RegistryMethods, PromptsMethods, LoggedModelsMethods, WebhooksMethods, InferenceMethods, PipelinesMethods,
             AuthMethods, TracesMethods, MonitoringMethods, PromotionMethods, DatasetsMethods, UsageMethods):
    """Experiments, runs, metrics and artifacts of one tracking store."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or get_tracking_uri()
        self._t: Transport
        # Each transport loads with the first client that needs it: the store (SQLAlchemy, alembic) only in process.
        if is_http(self.tracking_uri):
            from .http import HttpTransport

            self._t = HttpTransport(self.tracking_uri)
        else:
            from .transport import LocalTransport

            self._t = LocalTransport(self.tracking_uri)

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, op: Operation, request: msgspec.Struct) -> dict[str, Any]:
        return self._t.call(op, request)

    # ---- experiments ----------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        out = self._call(ops.CREATE_EXPERIMENT, s.CreateExperiment(name=name, artifact_location=artifact_location or None, tags=_kv(tags)))
        return str(out["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return Experiment.from_dict(self._call(ops.GET_EXPERIMENT, s.ExperimentId(experiment_id=str(experiment_id)))["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            out = self._call(ops.GET_EXPERIMENT_BY_NAME, s.GetExperimentByName(experiment_name=name))
        except ResourceDoesNotExist:
            return None
        return Experiment.from_dict(out["experiment"])

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of experiments when ``max_results`` is given, else all of them (``.token`` None)."""

        def page(size: int, token: str | None) -> PagedList:
            req = s.SearchExperiments(view_type=view_type, max_results=size, filter=filter_string or None,
                                     order_by=list(order_by or []), page_token=token or None)
            return _page(self._call(ops.SEARCH_EXPERIMENTS, req), "experiments", Experiment.from_dict)

        if max_results is not None:
            return page(max_results, page_token)
        return PagedList(_all_pages(lambda tok: page(1000, tok)))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call(ops.UPDATE_EXPERIMENT, s.UpdateExperiment(experiment_id=str(experiment_id), new_name=new_name))

    def delete_experiment(self, experiment_id: str) -> None:
        self._call(ops.DELETE_EXPERIMENT, s.ExperimentId(experiment_id=str(experiment_id)))

    def restore_experiment(self, experiment_id: str) -> None:
        self._call(ops.RESTORE_EXPERIMENT, s.ExperimentId(experiment_id=str(experiment_id)))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._call(ops.SET_EXPERIMENT_TAG, s.SetExperimentTag(experiment_id=str(experiment_id), key=key, value=_str(value)))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call(ops.DELETE_EXPERIMENT_TAG, s.DeleteExperimentTag(experiment_id=str(experiment_id), key=key))

    # ---- runs -----------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str = "0",
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        req = s.CreateRun(experiment_id=str(experiment_id), user_id=user_id, start_time=start_time, tags=_kv(tags),
                          run_name=run_name)
        return Run.from_dict(self._call(ops.CREATE_RUN, req)["run"])

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._call(ops.GET_RUN, s.RunId(run_id=run_id))["run"])

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None, end_time: int | None = None
    ) -> RunInfo:
        req = s.UpdateRun(run_id=run_id, status=status, end_time=end_time, run_name=name)
        return RunInfo.from_dict(self._call(ops.UPDATE_RUN, req)["run_info"])

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None) -> RunInfo:
        return self.update_run(run_id, status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        self._call(ops.DELETE_RUN, s.RunId(run_id=run_id))

    def restore_run(self, run_id: str) -> None:
        self._call(ops.RESTORE_RUN, s.RunId(run_id=run_id))

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of runs: a list (iterate it) with the next page's ``.token``."""
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else list(experiment_ids)
        req = s.SearchRuns(experiment_ids=[str(i) for i in ids], filter=filter_string or None, run_view_type=run_view_type,
                           max_results=max_results, order_by=list(order_by or []), page_token=page_token or None)
        return _page(self._call(ops.SEARCH_RUNS, req), "runs", Run.from_dict)

    # ---- logging --------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int | None = None) -> None:
        """One point; ``value`` any number (numpy and one-element torch values too), as in MLflow."""
        point = Metric(key, value, now_ms() if timestamp is None else timestamp, 0 if step is None else step)
        self._t.log_bulk(run_id, [plain_metric(point)], (), ())

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self._call(ops.LOG_PARAM, s.LogParam(run_id=run_id, key=key, value=_str(value)))
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._call(ops.SET_TAG, s.SetTag(run_id=run_id, key=key, value=_str(value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call(ops.DELETE_TAG, s.DeleteTag(run_id=run_id, key=key))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Any number of points in as few round trips as possible; params and tags by 100.

        Values may be numpy or one-element torch numbers, steps and timestamps numpy
        integers: they are sent as ``float`` and ``int``; param and tag values as ``str``.
        """
        params = [Param(p.key, _str(p.value)) for p in params]
        tags = [RunTag(t.key, _str(t.value)) for t in tags]
        n = s.MAX_PARAMS_TAGS_PER_BATCH
        self._t.log_bulk(run_id, plain_metrics(metrics), params[:n], tags[:n])
        for start in range(n, max(len(params), len(tags)), n):
            self._t.log_bulk(run_id, [], params[start : start + n], tags[start : start + n])

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Sequence[LoggedModelInput] | None = None
    ) -> None:
        """Record datasets and logged models (``LoggedModelInput(model_id)``) a run used, as MLflow's."""
        req = msgspec.convert({"run_id": run_id, "datasets": [d.to_dict() for d in datasets or ()],
                               "models": [m.to_dict() for m in models or ()]}, s.LogInputs)
        self._call(ops.LOG_INPUTS, req)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of ``key``, all pages."""

        def page(token: str | None) -> PagedList:
            req = s.GetMetricHistory(run_id=run_id, metric_key=key, max_results=25_000, page_token=token)
            return _page(self._call(ops.GET_METRIC_HISTORY, req), "metrics", Metric.from_dict)

        return _all_pages(page)

    # ---- artifacts ------------------------------------------------------------

    def _repo(self, run_id: str):  # type: ignore[no-untyped-def]
        return self._t.artifact_repository(self.get_run(run_id).info.artifact_uri)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        self._repo(run_id).log_file(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._repo(run_id).log_dir(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        if artifact_file.endswith((".yaml", ".yml")):
            try:
                import yaml  # optional, as in MLflow

                text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
            except ImportError:
                text = json.dumps(dictionary, indent=2)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib (``savefig``) or plotly (``write_html``/``write_image``) figure."""
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, posixpath.basename(artifact_file))
            if hasattr(figure, "savefig"):
                figure.savefig(local)
            elif artifact_file.endswith(".html") and hasattr(figure, "write_html"):
                figure.write_html(local)
            elif hasattr(figure, "write_image"):
                figure.write_image(local)
            else:
                raise TypeError(f"Unsupported figure type {type(figure).__name__}: use matplotlib or plotly.")
            self.log_artifact(run_id, local, posixpath.dirname(artifact_file) or None)

    def _log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        import io

        self._repo(run_id).put(artifact_file, io.BytesIO(data))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return cast("list[FileInfo]", self._repo(run_id).list(path or ""))

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        dest = dst_path or tempfile.mkdtemp(prefix="modelyard-")
        return str(self._repo(run_id).download(path, dest))

    def load_text(self, run_id: str, artifact_file: str) -> str:
        try:
            return str(self._repo(run_id).read_bytes(artifact_file).decode("utf-8"))
        except FileNotFoundError as exc:
            raise ResourceDoesNotExist(f"Artifact {artifact_file!r} does not exist.") from exc


def _all_pages(fetch: Any) -> list[Any]:
    items: list[Any] = []
    token = None
    for _ in range(1_000_000):
        page = fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    return items


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _strs(d: dict[str, Any] | None) -> dict[str, str]:
    return {k: _str(v) for k, v in (d or {}).items()}


def _kv(d: dict[str, Any] | None) -> list[s.KeyValue]:
    return [s.KeyValue(key=k, value=_str(v)) for k, v in (d or {}).items()]


def _page(out: dict[str, Any], key: str, decode: Callable[[dict[str, Any]], Any]) -> PagedList:
    """One page of an answer: its ``key`` items decoded, and the next page's token."""
    return PagedList([decode(item) for item in out.get(key, ())], out.get("next_page_token") or None)

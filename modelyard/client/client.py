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
from collections.abc import Sequence
from typing import Any

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
from ..service.limits import MAX_PARAMS_TAGS_PER_BATCH
from .http import HttpTransport
from .inference import InferenceMethods
from .logged_models import LoggedModelsMethods
from .monitoring import MonitoringMethods
from .pipelines import PipelinesMethods
from .registry import RegistryMethods
from .transport import LocalTransport, Transport
from .uri import get_tracking_uri, is_http
from .values import plain_metric, plain_metrics
from .webhooks import WebhooksMethods


def now_ms() -> int:
    return int(time.time() * 1000)


class Client(RegistryMethods, LoggedModelsMethods, WebhooksMethods, InferenceMethods, PipelinesMethods,
             MonitoringMethods):
    """Experiments, runs, metrics and artifacts of one tracking store."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or get_tracking_uri()
        self._t: Transport = (
            HttpTransport(self.tracking_uri) if is_http(self.tracking_uri) else LocalTransport(self.tracking_uri)
        )

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- experiments ----------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        return self._t.create_experiment(name, artifact_location, _strs(tags))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._t.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._t.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of experiments when ``max_results`` is given, else all of them (``.token`` None)."""
        if max_results is not None:
            return self._t.search_experiments(view_type, max_results, filter_string, order_by, page_token)
        return PagedList(_all_pages(lambda tok: self._t.search_experiments(view_type, 1000, filter_string, order_by, tok)))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._t.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._t.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._t.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._t.set_experiment_tag(str(experiment_id), key, str(value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._t.delete_experiment_tag(str(experiment_id), key)

    # ---- runs -----------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str = "0",
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        return self._t.create_run(str(experiment_id), start_time, _strs(tags), run_name, user_id)

    def get_run(self, run_id: str) -> Run:
        return self._t.get_run(run_id)

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None, end_time: int | None = None
    ) -> RunInfo:
        return self._t.update_run(run_id, status, end_time, name)

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None) -> RunInfo:
        return self._t.update_run(run_id, status, end_time or now_ms(), None)

    def delete_run(self, run_id: str) -> None:
        self._t.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._t.restore_run(run_id)

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
        return self._t.search_runs([str(i) for i in ids], filter_string, run_view_type, max_results, order_by, page_token)

    # ---- logging --------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int | None = None) -> None:
        """One point; ``value`` any number (numpy and one-element torch values too), as in MLflow."""
        point = Metric(key, value, now_ms() if timestamp is None else timestamp, 0 if step is None else step)
        self._t.log_batch(run_id, [plain_metric(point)], (), ())

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self._t.log_param(run_id, Param(key, _str(value)))
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._t.set_tag(run_id, RunTag(key, _str(value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._t.delete_tag(run_id, key)

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
        n = MAX_PARAMS_TAGS_PER_BATCH
        self._t.log_batch(run_id, plain_metrics(metrics), params[:n], tags[:n])
        for start in range(n, max(len(params), len(tags)), n):
            self._t.log_batch(run_id, [], params[start : start + n], tags[start : start + n])

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Sequence[LoggedModelInput] | None = None
    ) -> None:
        """Record datasets and logged models (``LoggedModelInput(model_id)``) a run used, as MLflow's."""
        self._t.log_inputs(run_id, list(datasets or ()), list(models or ()))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of ``key``, all pages."""
        return _all_pages(lambda tok: self._t.get_metric_history(run_id, key, 25_000, tok))

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
        return self._repo(run_id).list(path or "")

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        dest = dst_path or tempfile.mkdtemp(prefix="modelyard-")
        return self._repo(run_id).download(path, dest)

    def load_text(self, run_id: str, artifact_file: str) -> str:
        try:
            return self._repo(run_id).read_bytes(artifact_file).decode("utf-8")
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

"""The MLflow REST API (and our bulk-ingest extension) spoken over HTTP."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import msgspec

from ..artifacts import ArtifactRepository, get_repository, safe_relpath
from ..artifacts.base import Readable
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
    RunTag,
    encode_float,
)
from ..errors import ModelyardError, TemporarilyUnavailable, error_from_code
from ..service.limits import MAX_BULK_METRICS
from .credentials import connection
from .inference_http import HttpInference
from .logged_models_http import HttpLoggedModels
from .pipelines_http import HttpPipelines
from .registry_http import HttpRegistry
from .traces_http import HttpTraces
from .webhooks_http import HttpWebhooks

API = "/api/2.0/mlflow"
EXT = "/api/2.0/modelyard"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_RETRY_STATUSES = (429, 502, 503, 504)
_encoder = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()
MSGPACK = "application/msgpack"


class HttpTransport(HttpRegistry, HttpLoggedModels, HttpWebhooks, HttpInference, HttpPipelines, HttpTraces):
    """A keep-alive connection to a modelyard (or MLflow) server."""

    def __init__(self, base_url: str, *, timeout: float = 120.0, retries: int = 3) -> None:
        conn = connection(base_url)
        self.base_url = conn.base_url  # without user info, so no message repeats a password
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, auth=conn.auth, verify=conn.verify)
        self.retries = retries
        self.ingest_msgpack = True  # off once a server (an older modelyard) reads ingest bodies as JSON only

    # ---- plumbing -------------------------------------------------------------

    def call(
        self, method: str, path: str, body: Any = None, params: Any = None, *, msgpack: bool = False
    ) -> dict[str, Any]:
        """One request with retries; ``body`` goes as JSON, or as MessagePack with ``msgpack``."""
        if body is None:
            content, headers = None, None
        elif msgpack:
            content, headers = _msgpack.encode(body), {"Content-Type": MSGPACK}
        else:
            content, headers = _encoder.encode(body), {"Content-Type": "application/json"}
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise TemporarilyUnavailable(f"Cannot reach {self.base_url}{path}: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
                continue
            if resp.status_code in _RETRY_STATUSES and attempt < self.retries:
                time.sleep(0.2 * 2**attempt)
                continue
            return _decode(resp)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.http.close()

    # ---- experiments ----------------------------------------------------------

    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str:
        body: dict[str, Any] = {"name": name, "tags": _kv(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self.call("POST", f"{API}/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        out = self.call("GET", f"{API}/experiments/get", params={"experiment_id": experiment_id})
        return Experiment.from_dict(out["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            out = self.call("GET", f"{API}/experiments/get-by-name", params={"experiment_name": name})
        except ModelyardError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return Experiment.from_dict(out["experiment"])

    def search_experiments(self, view_type, max_results, filter_string, order_by, page_token):  # type: ignore[no-untyped-def]
        body = {"view_type": view_type, "max_results": max_results, "filter": filter_string or "",
                "order_by": list(order_by or []), "page_token": page_token or ""}
        out = self.call("POST", f"{API}/experiments/search", body)
        items = [Experiment.from_dict(e) for e in out.get("experiments", [])]
        return PagedList(items, out.get("next_page_token") or None)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.call("POST", f"{API}/experiments/update", {"experiment_id": experiment_id, "new_name": new_name})

    def delete_experiment(self, experiment_id: str) -> None:
        self.call("POST", f"{API}/experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self.call("POST", f"{API}/experiments/restore", {"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.call("POST", f"{API}/experiments/set-experiment-tag", {"experiment_id": experiment_id, "key": key, "value": value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.call("POST", f"{API}/experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": key})

    # ---- runs -----------------------------------------------------------------

    def create_run(self, experiment_id, start_time, tags, run_name, user_id):  # type: ignore[no-untyped-def]
        body: dict[str, Any] = {"experiment_id": str(experiment_id), "tags": _kv(tags)}
        for key, value in (("start_time", start_time), ("run_name", run_name), ("user_id", user_id)):
            if value is not None:
                body[key] = value
        return Run.from_dict(self.call("POST", f"{API}/runs/create", body)["run"])

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self.call("GET", f"{API}/runs/get", params={"run_id": run_id})["run"])

    def update_run(self, run_id: str, status: str | None, end_time: int | None, run_name: str | None) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id}
        for key, value in (("status", status), ("end_time", end_time), ("run_name", run_name)):
            if value is not None:
                body[key] = value
        return RunInfo.from_dict(self.call("POST", f"{API}/runs/update", body)["run_info"])

    def delete_run(self, run_id: str) -> None:
        self.call("POST", f"{API}/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self.call("POST", f"{API}/runs/restore", {"run_id": run_id})

    def search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):  # type: ignore[no-untyped-def]
        body = {"experiment_ids": [str(e) for e in experiment_ids], "filter": filter_string or "",
                "run_view_type": run_view_type, "max_results": max_results,
                "order_by": list(order_by or []), "page_token": page_token or ""}
        out = self.call("POST", f"{API}/runs/search", body)
        return PagedList([Run.from_dict(r) for r in out.get("runs", [])], out.get("next_page_token") or None)

    def log_batch(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
        """Our bulk path: columnar series, up to 100,000 points a request, as MessagePack."""
        first = True
        for start in range(0, max(len(metrics), 1), MAX_BULK_METRICS):
            chunk = metrics[start : start + MAX_BULK_METRICS]
            body: dict[str, Any] = {"run_id": run_id}
            if first:
                body["params"] = [p.to_dict() for p in params]
                body["tags"] = [t.to_dict() for t in tags]
                first = False
            self._ingest(body, chunk)

    def _ingest(self, body: dict[str, Any], metrics: Sequence[Metric]) -> None:
        if self.ingest_msgpack:
            body["metrics"] = _columnar(metrics, json=False)
            try:
                self.call("POST", f"{EXT}/runs/ingest", body, msgpack=True)
                return
            except ModelyardError as exc:
                if not (exc.error_code == "MALFORMED_REQUEST" and "Malformed JSON" in str(exc)):
                    raise
                self.ingest_msgpack = False  # a server that predates MessagePack ingest: nothing was stored
        body["metrics"] = _columnar(metrics, json=True)
        self.call("POST", f"{EXT}/runs/ingest", body)

    def log_param(self, run_id: str, param: Param) -> None:
        self.call("POST", f"{API}/runs/log-parameter", {"run_id": run_id, "key": param.key, "value": param.value})

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.call("POST", f"{API}/runs/set-tag", {"run_id": run_id, "key": tag.key, "value": tag.value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.call("POST", f"{API}/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[LoggedModelInput] = ()) -> None:
        body: dict[str, Any] = {"run_id": run_id, "datasets": [d.to_dict() for d in datasets]}
        if models:
            body["models"] = [m.to_dict() for m in models]
        self.call("POST", f"{API}/runs/log-inputs", body)

    def get_metric_history(self, run_id: str, key: str, max_results: int | None, page_token: str | None) -> PagedList:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key}
        if max_results is not None:
            params["max_results"] = max_results
        if page_token:
            params["page_token"] = page_token
        out = self.call("GET", f"{API}/metrics/get-history", params=params)
        points = [Metric.from_dict(m) for m in out.get("metrics", [])]
        return PagedList(points, out.get("next_page_token") or None)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        if artifact_uri.startswith("mlflow-artifacts:"):
            rest = artifact_uri[len("mlflow-artifacts:"):]
            if rest.startswith("//"):
                rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
            return ProxiedArtifactRepository(self, safe_relpath(rest.lstrip("/"), "artifact_uri"))
        return get_repository(artifact_uri)


class ProxiedArtifactRepository(ArtifactRepository):
    """Artifacts reached through a server's ``/api/2.0/mlflow-artifacts`` proxy."""

    def __init__(self, transport: HttpTransport, root: str) -> None:
        super().__init__(f"mlflow-artifacts:/{root}")
        self.t = transport
        self.root = root

    def _remote(self, path: str) -> str:
        rel = safe_relpath(path)
        return f"{self.root}/{rel}" if rel else self.root

    def put(self, path: str, data: Readable) -> None:
        resp = self.t.http.put(f"{ARTIFACTS}/{self._remote(path)}", content=_file_chunks(data))
        _decode(resp)

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_relpath(path)
        out = self.t.call("GET", ARTIFACTS, params={"path": self._remote(rel)})
        return [
            FileInfo(f"{rel}/{f['path']}" if rel else f["path"], bool(f.get("is_dir")), f.get("file_size"))
            for f in out.get("files", [])
        ]

    def open(self, path: str) -> Iterator[bytes]:
        """Stream a download; errors (404…) are raised before the first chunk."""
        request = self.t.http.build_request("GET", f"{ARTIFACTS}/{self._remote(path)}")
        resp = self.t.http.send(request, stream=True)
        if resp.status_code != 200:
            resp.read()
            resp.close()
            _decode(resp)
        return _stream(resp)

    def is_file(self, path: str) -> bool:
        rel = safe_relpath(path)
        parent, _, name = rel.rpartition("/")
        return any(not f.is_dir and f.path.rsplit("/", 1)[-1] == name for f in self.list(parent))

    def delete(self, path: str = "") -> None:
        _decode(self.t.http.delete(f"{ARTIFACTS}/{self._remote(path)}"))


def _stream(resp: httpx.Response) -> Iterator[bytes]:
    try:
        yield from resp.iter_bytes(1 << 20)
    finally:
        resp.close()


def _file_chunks(data: Readable) -> Iterator[bytes]:
    while chunk := data.read(1 << 20):
        yield chunk


def _decode(resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code == 200:
        return msgspec.json.decode(resp.content) if resp.content else {}
    try:
        body = msgspec.json.decode(resp.content)
        err = error_from_code(body.get("error_code", ""), body.get("message", resp.text))
    except (msgspec.DecodeError, AttributeError):
        err = ModelyardError(f"HTTP {resp.status_code} from {resp.request.url}: {resp.text[:500]}")
    err.status = resp.status_code
    raise err


def _kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in d.items()]


def _columnar(metrics: Sequence[Metric], *, json: bool) -> list[dict[str, Any]]:
    """Points grouped by key, in order; for ``json``, non-finite values as MLflow's strings."""
    series: dict[str, tuple[list[Any], list[int], list[int]]] = {}
    for m in metrics:
        s = series.get(m.key)
        if s is None:
            s = series[m.key] = ([], [], [])
        s[0].append(m.value)
        s[1].append(m.timestamp)
        s[2].append(m.step)
    return [
        {"key": k, "values": _json_values(v) if json else v, "timestamps": t, "steps": st}
        for k, (v, t, st) in series.items()
    ]


def _json_values(values: list[Any]) -> list[Any]:
    """``values`` with NaN and infinities as "NaN", "Infinity", "-Infinity" (JSON has no such numbers)."""
    try:
        if math.isfinite(sum(values)):
            return values
    except TypeError:  # not all numbers: sent as they are, for the server to name
        pass
    return [encode_float(v) if isinstance(v, float) else v for v in values]

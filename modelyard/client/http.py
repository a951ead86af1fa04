"""The MLflow REST API (and our bulk-ingest extension) spoken over HTTP."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import msgspec

from ..api.operations import Operation
from ..api.schemas import MAX_BULK_METRICS
from ..artifacts import ArtifactRepository, get_repository, safe_relpath
from ..artifacts.base import Readable
from ..entities import (
    FileInfo,
    Metric,
    Param,
    RunTag,
    encode_float,
)
from ..entities.traces import Span, TraceInfo
from ..errors import ModelyardError, TemporarilyUnavailable, error_from_code
from .credentials import WORKSPACE_HEADER, connection, workspace

API = "/api/2.0/mlflow"
EXT = "/api/2.0/modelyard"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_RETRY_STATUSES = (429, 502, 503, 504)
_NOT_DONE_STATUSES = (429, 503)  # the server answered without doing the call
_encoder = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()
MSGPACK = "application/msgpack"


class HttpTransport:
    """A keep-alive connection to a modelyard (or MLflow) server.

    ``http``: an httpx client of your own to send through instead (its base URL is used as it is);
    Starlette's ``TestClient(app)`` runs the real app in this process.
    """

    def __init__(
        self, base_url: str, *, timeout: float = 120.0, retries: int = 3, http: httpx.Client | None = None
    ) -> None:
        conn = connection(base_url)
        self.base_url = conn.base_url  # without user info, so no message repeats a password
        self.http = http or httpx.Client(base_url=self.base_url, timeout=timeout, auth=conn.auth, verify=conn.verify)
        self.retries = retries
        self.ingest_msgpack = True  # off once a server (an older modelyard) reads ingest bodies as JSON only

    # ---- plumbing -------------------------------------------------------------

    def call(self, op: Operation, request: msgspec.Struct) -> dict[str, Any]:
        """Send ``op`` with ``request``: its fields in the path, the query string or a JSON body."""
        path = op.url_path(msgspec.structs.asdict(request)) if op.path_params else op.path
        if op.query:
            params = {k: v for k, v in msgspec.to_builtins(request).items() if k not in op.path_params}
            return self.send(op.method, path, params=params, idempotent=op.idempotent)
        body = msgspec.to_builtins(request)
        for name in op.path_params:
            body.pop(name, None)
        return self.send(op.method, path, body, idempotent=op.idempotent)

    def send(
        self, method: str, path: str, body: Any = None, params: Any = None, *, msgpack: bool = False,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One request, retried while the server is unreachable or busy.

        A request that was never sent (no connection) or that the server refused without doing it
        (429, 503) is sent again, up to ``retries`` times with backoff. Other failures (a timeout
        waiting for the answer, a 502 or 504 from a proxy) are retried only for an ``idempotent``
        call: the first attempt may have been done, and a call that creates something would do it twice.
        """
        headers: dict[str, str] = {}
        if body is None:
            content = None
        elif msgpack:
            content, headers["Content-Type"] = _msgpack.encode(body), MSGPACK
        else:
            content, headers["Content-Type"] = _encoder.encode(body), "application/json"
        if named := workspace():  # read per call: MLFLOW_WORKSPACE may change after the client is made
            headers[WORKSPACE_HEADER] = named
        retry_statuses = _RETRY_STATUSES if idempotent else _NOT_DONE_STATUSES
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if attempt == self.retries or not (idempotent or never_sent):
                    raise TemporarilyUnavailable(f"Cannot reach {self.base_url}{path}: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
                continue
            if resp.status_code in retry_statuses and attempt < self.retries:
                time.sleep(0.2 * 2**attempt)
                continue
            return _decode(resp)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.http.close()

    def log_bulk(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
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
                self.send("POST", f"{EXT}/runs/ingest", body, msgpack=True, idempotent=False)
                return
            except ModelyardError as exc:
                if not (exc.error_code == "MALFORMED_REQUEST" and "Malformed JSON" in str(exc)):
                    raise
                self.ingest_msgpack = False  # a server that predates MessagePack ingest: nothing was stored
        body["metrics"] = _columnar(metrics, json=True)
        self.send("POST", f"{EXT}/runs/ingest", body, idempotent=False)

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[list[Span], TraceInfo]]) -> None:
        """Spans as OTLP JSON to ``/v1/traces``, then each trace's info (as the mlflow client sends them)."""
        from ..api import traces as ops
        from ..api.schemas_traces import StartTrace

        otlp = [span.to_otlp_json() for spans, _ in traces for span in spans]
        self.send("POST", "/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": otlp}]}]},
                  params={"experiment_id": experiment_id}, idempotent=False)
        for _, info in traces:
            self.call(ops.START_TRACE, msgspec.convert({"trace": {"trace_info": info.to_dict()}}, StartTrace))

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
        out = self.t.send("GET", ARTIFACTS, params={"path": self._remote(rel)})
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
    if 200 <= resp.status_code < 300:
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

"""How a :class:`~modelyard.Client` reaches a store: in process, or over HTTP.

Both transports run the operations of the table (:mod:`modelyard.api`) and answer with the REST
API's JSON: ``LocalTransport`` runs each operation's handler on the service in this process,
``HttpTransport`` (in ``http.py``) sends it to a server. The client turns answers into entities
once, for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from ..api.operations import Operation
from ..api.schemas import MAX_BULK_METRICS
from ..artifacts import ArtifactRepository
from ..artifacts.locations import ANYWHERE
from ..entities import Metric, Param, RunTag
from ..entities.traces import Span, TraceInfo
from ..settings import Settings
from .credentials import workspace
from .uri import embedded_location

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class Transport(Protocol):
    """What the :class:`~modelyard.Client` needs of a store: run an operation, log in bulk, reach artifacts."""

    def call(self, op: Operation, request: msgspec.Struct) -> dict[str, Any]:
        """Run ``op`` (see :mod:`modelyard.api`) with ``request``; the REST API's answer."""
        ...

    def log_bulk(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
        """Any number of points, with params and tags: in as few round trips as the store takes."""
        ...

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[list[Span], TraceInfo]]) -> None:
        """Finished traces: their spans (OpenTelemetry's protocol, not a JSON operation), then each info."""
        ...

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository: ...
    def close(self) -> None: ...


class LocalTransport:
    """The service in this process, over an embedded store."""

    def __init__(self, uri: str) -> None:
        where = embedded_location(uri)
        settings = Settings.from_env(
            backend_store_uri=where.backend_store_uri,
            default_artifact_root=where.artifact_root,
            artifacts_destination=where.artifact_root,
            serve_artifacts=False,
            artifact_roots=ANYWHERE,  # the user's own process: any well-formed location of theirs is theirs
        )
        from ..service import TrackingService  # the store loads only when a local client is made
        from ..service.caller import workspace as current_workspace
        from ..service.workspaces import check_name

        self.service = TrackingService(settings)
        self.artifact_repository = self.service.artifacts.repository
        self._workspace, self._check_workspace = current_workspace, check_name

    def call(self, op: Operation, request: msgspec.Struct) -> dict[str, Any]:
        # Names resolve in MLFLOW_WORKSPACE's workspace, as a server resolves them in the header's.
        named = workspace()
        token = self._workspace.set(self._check_workspace(named) if named else None)
        try:
            answer = op.resolve()(self.service, request)
        finally:
            self._workspace.reset(token)
        if answer is None:
            return {}
        # The answer as the server would send it: handlers may hold pre-encoded JSON (msgspec.Raw)
        # and values JSON spells differently (NaN), so the client sees the same thing both ways.
        return _decode(_encode(answer))  # type: ignore[no-any-return]

    def log_bulk(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
        first = True
        for start in range(0, max(len(metrics), 1), MAX_BULK_METRICS):
            chunk = metrics[start : start + MAX_BULK_METRICS]
            self.service.runs.log_batch(
                run_id, chunk, params if first else (), tags if first else (), max_metrics=MAX_BULK_METRICS
            )
            first = False

    def log_traces(self, experiment_id: str, traces: Sequence[tuple[list[Span], TraceInfo]]) -> None:
        self.service.traces.log_traces(
            experiment_id, [s for spans, _ in traces for s in spans], [info.to_dict() for _, info in traces])

    def close(self) -> None:
        self.service.close()

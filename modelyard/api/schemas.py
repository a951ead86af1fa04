"""Declared request schemas of the MLflow REST API (and our extensions).

Fields are optional where MLflow's protos make them optional; the service
layer reports a missing required value with MLflow's message. Numbers may
arrive as JSON numbers or strings ("5", "NaN"), as protobuf JSON allows.
"""

from __future__ import annotations

from typing import Annotated, Optional

import msgspec

# Every integer the stores keep is a signed 64-bit column: a larger one is refused at the edge,
# naming the field, instead of overflowing in SQLite or PostgreSQL.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Request(msgspec.Struct, omit_defaults=True):
    """Every request body: fields left at their default are not sent (MLflow's servers read them as absent)."""


class KeyValue(Request):
    key: Optional[str] = None
    value: Optional[str] = None


class MetricIn(Request):
    key: Optional[str] = None
    value: Optional[float] = None
    timestamp: Optional[Int64] = None
    step: Optional[Int64] = 0
    model_id: Optional[str] = None
    dataset_name: Optional[str] = None
    dataset_digest: Optional[str] = None
    run_id: Optional[str] = None


# ---- experiments ---------------------------------------------------------------

class CreateExperiment(Request):
    name: Optional[str] = None
    artifact_location: Optional[str] = None
    tags: list[KeyValue] = []


class SearchDatasets(Request):
    experiment_ids: list[str] = []


class ExperimentId(Request):
    experiment_id: Optional[str] = None


class GetExperimentByName(Request):
    experiment_name: Optional[str] = None


class SearchExperiments(Request):
    max_results: Optional[Int64] = 1000
    page_token: Optional[str] = None
    filter: Optional[str] = None
    order_by: list[str] = []
    view_type: Optional[str] = "ACTIVE_ONLY"


class UpdateExperiment(Request):
    experiment_id: Optional[str] = None
    new_name: Optional[str] = None


class SetExperimentTag(Request):
    experiment_id: Optional[str] = None
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteExperimentTag(Request):
    experiment_id: Optional[str] = None
    key: Optional[str] = None


# ---- runs ----------------------------------------------------------------------

class CreateRun(Request):
    experiment_id: Optional[str] = None
    user_id: Optional[str] = None
    run_name: Optional[str] = None
    start_time: Optional[Int64] = None
    tags: list[KeyValue] = []


class RunId(Request):
    run_id: Optional[str] = None
    run_uuid: Optional[str] = None

    @property
    def id(self) -> str | None:
        return self.run_id or self.run_uuid


class UpdateRun(RunId):
    status: Optional[str] = None
    end_time: Optional[Int64] = None
    run_name: Optional[str] = None


class SearchRuns(Request):
    experiment_ids: list[str] = []
    filter: Optional[str] = None
    run_view_type: Optional[str] = "ACTIVE_ONLY"
    max_results: Optional[Int64] = 1000
    order_by: list[str] = []
    page_token: Optional[str] = None


class LogMetric(RunId):
    key: Optional[str] = None
    value: Optional[float] = None
    timestamp: Optional[Int64] = None
    step: Optional[Int64] = 0
    model_id: Optional[str] = None
    dataset_name: Optional[str] = None
    dataset_digest: Optional[str] = None


class LogParam(RunId):
    key: Optional[str] = None
    value: Optional[str] = None


class SetTag(RunId):
    key: Optional[str] = None
    value: Optional[str] = None


class DeleteTag(RunId):
    key: Optional[str] = None


class LogBatch(RunId):
    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class DatasetIn(Request):
    name: Optional[str] = None
    digest: Optional[str] = None
    source_type: Optional[str] = None
    source: Optional[str] = None
    schema: Optional[str] = None
    profile: Optional[str] = None


class DatasetInputIn(Request):
    dataset: Optional[DatasetIn] = None
    tags: list[KeyValue] = []


class ModelInputIn(Request):
    model_id: Optional[str] = None


class LogInputs(RunId):
    datasets: list[DatasetInputIn] = []
    models: list[ModelInputIn] = []


# ---- metrics and artifacts -----------------------------------------------------

class GetMetricHistory(RunId):
    metric_key: Optional[str] = None
    max_results: Optional[Int64] = None
    page_token: Optional[str] = None


class GetMetricHistoryBulk(Request):
    run_id: list[str] = []  # repeated in the query string
    metric_key: Optional[str] = None
    max_results: Optional[int] = None


class GetMetricHistoryBulkInterval(Request):
    run_ids: list[str] = []
    metric_key: Optional[str] = None
    start_step: Optional[Int64] = None
    end_step: Optional[Int64] = None
    max_results: Optional[Int64] = None


class ListArtifacts(RunId):
    path: Optional[str] = None
    page_token: Optional[str] = None


class ListProxiedArtifacts(Request):
    path: Optional[str] = None


# ---- modelyard extensions ------------------------------------------------------

class MetricSeries(Request):
    """One key's points, columnar: equal-length lists."""

    key: str
    values: list[float]
    timestamps: list[int]
    steps: list[int]


# Our bulk-ingest extension: one request may carry this many points.
MAX_BULK_METRICS = 100_000
# Params and tags one log-batch may carry, each (MLflow's limit).
MAX_PARAMS_TAGS_PER_BATCH = 100


class IngestBatch(RunId):
    """``POST /api/2.0/modelyard/runs/ingest``: many points, one transaction.

    Sent as JSON, or as MessagePack with ``Content-Type: application/msgpack``
    (see :mod:`modelyard.server.routes.ingest`).
    """

    metrics: list[MetricSeries] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []

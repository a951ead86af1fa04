"""MLflow wire dicts built straight from stored rows, for the read paths that answer many at once.

Building entity objects and then ``to_dict`` for a page of 1,000 runs, or a
metric history of 100,000 points, costs more than the query. The store reads
such pages as plain rows (:class:`RunPage`, history rows); the encoders here
turn them into exactly the dicts ``Run.to_dict`` (plus MLflow 3's ``outputs``)
and ``Metric.to_dict`` would give, for the server to encode as JSON. Nothing
here touches a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from msgspec import Raw

# The columns of ``runs`` in table order, as a page's run rows carry them.
RUN_COLUMNS = (
    "id", "run_uuid", "name", "experiment_id", "user_id", "status", "start_time", "end_time",
    "deleted_time", "artifact_uri", "lifecycle_stage",
)
_INF = float("inf")

Rows = Sequence[Sequence[Any]]


class RunPage(NamedTuple):
    """A page of runs as the store read it: the run rows (``RUN_COLUMNS``, in page order) and
    their children's rows, each led by the run's ``id`` (pk), runs' children in key order.

    ``params_json``/``tags_json``: where the database wrote each run's ``(key, value)``
    pairs as one JSON array of ``{"key", "value"}`` objects, ``(pk, text)`` rows replace
    ``params``/``tags``.
    """

    runs: Rows
    params: Rows = ()  # (pk, key, value)
    tags: Rows = ()  # (pk, key, value)
    params_json: Rows | None = None  # (pk, JSON text)
    tags_json: Rows | None = None
    metrics: Rows = ()  # latest values: (pk, key, value, is_nan, timestamp, step)
    inputs: Rows = ()  # (input id, pk, name, digest, source_type, source, schema, profile)
    input_tags: Rows = ()  # (input id, name, value)
    outputs: Rows = ()  # (pk, model_id, step)
    model_inputs: Rows = ()  # (pk, model_id)


def metric_value(value: float, is_nan: Any) -> float | str:
    """A stored metric value as MLflow's JSON writes it (non-finite values as strings)."""
    if is_nan:
        return "NaN"
    if -_INF < value < _INF:
        return value
    return "Infinity" if value > 0 else "-Infinity"


def run_dicts(page: RunPage) -> list[dict[str, Any]]:
    """The wire dicts of a page's runs, in its order; pairs the database wrote as JSON stay
    JSON (``msgspec.Raw``, ready for the encoder)."""
    if not page.runs:
        return []
    params = _pairs(page.params, page.params_json)
    tags = _pairs(page.tags, page.tags_json)
    metrics: dict[int, list[dict[str, Any]]] = {}
    last, items = None, []
    for pk, key, value, is_nan, ts, step in page.metrics:
        if pk != last:
            last, items = pk, metrics.setdefault(pk, [])
        if is_nan or not -_INF < value < _INF:
            value = metric_value(value, is_nan)
        items.append({"key": key, "value": value, "timestamp": ts, "step": step})
    inputs = _inputs(page.inputs, page.input_tags)
    outputs: dict[int, list[dict[str, Any]]] = {}
    for pk, model_id, step in page.outputs:
        outputs.setdefault(pk, []).append({"model_id": model_id, "step": step})
    model_inputs: dict[int, list[dict[str, Any]]] = {}
    for pk, model_id in page.model_inputs:
        model_inputs.setdefault(pk, []).append({"model_id": model_id})
    out = []
    for pk, run_uuid, name, experiment_id, user_id, status, start_time, end_time, _deleted, artifact_uri, stage in page.runs:
        info: dict[str, Any] = {
            "run_uuid": run_uuid, "run_id": run_uuid, "run_name": name or "",
            "experiment_id": str(experiment_id), "user_id": user_id or "", "status": status,
        }
        if start_time is not None:
            info["start_time"] = start_time
        if end_time is not None:
            info["end_time"] = end_time
        info["artifact_uri"] = artifact_uri or ""
        info["lifecycle_stage"] = stage
        data: dict[str, Any] = {}
        if pk in metrics:
            data["metrics"] = metrics[pk]
        if pk in params:
            data["params"] = params[pk]
        if pk in tags:
            data["tags"] = tags[pk]
        run_inputs: dict[str, Any] = {"dataset_inputs": inputs[pk]} if pk in inputs else {}
        if pk in model_inputs:
            run_inputs["model_inputs"] = model_inputs[pk]
        run: dict[str, Any] = {"info": info, "data": data, "inputs": run_inputs}
        if pk in outputs:
            run["outputs"] = {"model_outputs": outputs[pk]}
        out.append(run)
    return out


def _pairs(rows: Rows, json_rows: Rows | None) -> dict[int, Any]:
    if json_rows is not None:
        return {pk: Raw(text) for pk, text in json_rows}
    into: dict[int, list[dict[str, Any]]] = {}
    last, items = None, []
    for pk, key, value in rows:
        if pk != last:
            last, items = pk, into.setdefault(pk, [])
        items.append({"key": key, "value": value})
    return into


def _inputs(rows: Rows, tag_rows: Rows) -> dict[int, list[dict[str, Any]]]:
    into: dict[int, list[dict[str, Any]]] = {}
    if not rows:
        return into
    tags: dict[int, list[dict[str, str]]] = {}
    for input_pk, name, value in tag_rows:
        tags.setdefault(input_pk, []).append({"key": name, "value": value})
    for input_pk, run_pk, name, digest, source_type, source, schema, profile in rows:
        dataset: dict[str, Any] = {"name": name, "digest": digest, "source_type": source_type, "source": source}
        if schema is not None:
            dataset["schema"] = schema
        if profile is not None:
            dataset["profile"] = profile
        item: dict[str, Any] = {"dataset": dataset}
        if input_pk in tags:
            item["tags"] = tags[input_pk]
        into.setdefault(run_pk, []).append(item)
    return into


def metric_history_dicts(key: str, rows: Rows) -> list[dict[str, Any]]:
    """History rows ``(step, timestamp, value, is_nan)`` of one key as ``Metric.to_dict`` dicts."""
    inf = _INF
    return [
        {
            "key": key,
            "value": v if not n and -inf < v < inf else ("NaN" if n else "Infinity" if v > 0 else "-Infinity"),
            "timestamp": ts,
            "step": step,
        }
        for step, ts, v, n in rows
    ]

"""Evaluation records from traces: each trace's root inputs and outputs, its expectations, and its feedback.

Turns production or test traces (and the human feedback and expectations logged on them) into
rows for :func:`~modelyard.tracing.evaluate` or an evaluation dataset (``Client.merge_records``)::

    rows = my.tracing.records_from_traces([experiment_id], "feedback.helpful = 'false'")
    my.Client().merge_records(dataset_id, rows)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..client import fluent
from ..client.client import Client
from ..entities.traces import decode_any_value


def _plain(value: Any) -> Any:
    if isinstance(value, str):  # MLflow's client JSON-encodes attribute values
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _value(assessment: dict[str, Any], kind: str) -> Any:
    body = assessment.get(kind) or {}
    return body.get("value")


def records_from_traces(experiment_ids: Sequence[str], filter_string: str | None = None, max_results: int = 100,
                        client: Client | None = None) -> list[dict[str, Any]]:
    """One record per matching trace (newest first): ``inputs`` and ``outputs`` of its root span, its valid
    expectations as ``expectations``, its valid feedback as tags ``feedback.<name>``, its id as the source."""
    client = client or fluent.get_client()
    records = []
    for info in client.search_traces(list(experiment_ids), filter_string, max_results=max_results):
        _, spans = client.get_trace(info.trace_id)
        root = spans[0] if spans else {}
        attributes = {a["key"]: decode_any_value(a.get("value") or {}) for a in root.get("attributes", [])}
        inputs = _plain(attributes.get("mlflow.spanInputs"))
        record: dict[str, Any] = {"inputs": inputs if isinstance(inputs, dict) else {"inputs": inputs},
                                  "source": {"source_type": "TRACE", "source_data": {"trace_id": info.trace_id}}}
        if "mlflow.spanOutputs" in attributes:
            record["outputs"] = _plain(attributes["mlflow.spanOutputs"])
        valid = [a for a in info.assessments if a.get("valid", True) is not False]
        expectations = {a["assessment_name"]: _value(a, "expectation") for a in valid if "expectation" in a}
        if expectations:
            record["expectations"] = expectations
        feedback = {f"feedback.{a['assessment_name']}": json.dumps(_value(a, "feedback"))
                    for a in valid if "feedback" in a}
        if feedback:
            record["tags"] = feedback
        records.append(record)
    return records

"""Runs as a pandas DataFrame, with MLflow's column names."""

from __future__ import annotations

from typing import Any

from ..entities import Run


def runs_to_frame(runs: list[Run]) -> Any:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for r in runs:
        i = r.info
        row: dict[str, Any] = {
            "run_id": i.run_id,
            "experiment_id": i.experiment_id,
            "status": i.status,
            "artifact_uri": i.artifact_uri,
            "start_time": pd.to_datetime(i.start_time, unit="ms", utc=True) if i.start_time else pd.NaT,
            "end_time": pd.to_datetime(i.end_time, unit="ms", utc=True) if i.end_time else pd.NaT,
        }
        row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in r.data.params.items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
        rows.append(row)
    base = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    ordered = base + sorted(
        (c for c in frame.columns if c not in base),
        key=lambda c: (("metrics.", "params.", "tags.").index(c.split(".", 1)[0] + "."), c),
    )
    return frame[ordered] if rows else frame

"""Evaluation dataset methods of ``Client`` (MLflow 3's ``mlflow.genai.datasets`` API).

>>> c = my.Client()
>>> ds = c.create_dataset("qa-set", experiment_ids=["0"])
>>> c.merge_records(ds["dataset_id"], [{"inputs": {"q": "refunds?"}, "expectations": {"answer": "30 days"}}])
(1, 0)
>>> [r["inputs"] for r in c.get_dataset_records(ds["dataset_id"])]
[{'q': 'refunds?'}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..api import datasets as ops
from ..api import schemas_datasets as s
from ..api.operations import Operation
from ..entities import PagedList


def _dataset(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    out["tags"] = json.loads(d.get("tags") or "{}")
    return out


class DatasetsMethods:
    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    def create_dataset(self, name: str, experiment_ids: Sequence[str] = (), tags: dict[str, str] | None = None
                       ) -> dict[str, Any]:
        """A new evaluation dataset (a dict in MLflow's shape, ``tags`` decoded)."""
        req = s.CreateDataset(name=name, experiment_ids=[str(e) for e in experiment_ids],
                              tags=json.dumps(tags) if tags else None)
        return _dataset(self._call(ops.CREATE, req)["dataset"])

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        return _dataset(self._call(ops.GET, s.GetDataset(dataset_id=dataset_id))["dataset"])

    def search_datasets(self, experiment_ids: Sequence[str] = (), filter_string: str | None = None,
                        max_results: int = 1000, page_token: str | None = None) -> PagedList:
        req = s.SearchEvaluationDatasets(experiment_ids=[str(e) for e in experiment_ids], filter_string=filter_string,
                                         max_results=max_results, page_token=page_token)
        out = self._call(ops.SEARCH, req)
        return PagedList([_dataset(d) for d in out.get("datasets", [])], out.get("next_page_token"))

    def delete_dataset(self, dataset_id: str) -> None:
        self._call(ops.DELETE, s.DatasetId(dataset_id=dataset_id))

    def merge_records(self, dataset_id: str, records: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Add records (``inputs`` and optionally ``expectations``, ``outputs``, ``tags``); known inputs are
        updated. Returns (inserted, updated)."""
        out = self._call(ops.UPSERT_RECORDS, s.UpsertDatasetRecords(dataset_id=dataset_id,
                                                                    records=json.dumps(list(records))))
        return int(out.get("inserted_count", 0)), int(out.get("updated_count", 0))

    def get_dataset_records(self, dataset_id: str) -> list[dict[str, Any]]:
        """Every record of the dataset, oldest first (read a page at a time)."""
        records: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            out = self._call(ops.GET_RECORDS, s.GetDatasetRecords(dataset_id=dataset_id, max_results=1000,
                                                                  page_token=token))
            records += json.loads(out.get("records") or "[]")
            token = out.get("next_page_token")
            if not token:
                return records

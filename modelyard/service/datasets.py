"""Evaluation datasets (MLflow 3's ``mlflow.genai.datasets``): create, search, tags, records merged by inputs.

Rules follow MLflow 3.17.2's SQL store: a record is identified by its inputs (SHA-256 of the
inputs as sorted JSON), so merging a record whose inputs are already there updates it: its
outputs are replaced, its expectations and tags merged key by key. Every change gives the
dataset a new digest and last-update time, and its schema (the type of each input, output and
expectation field) and profile (``num_records``) follow its records. Searches take MLflow's
filter grammar on ``name``, ``created_time``, ``last_update_time``, ``created_by``,
``last_updated_by`` and ``tags.<key>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from ..entities.query import ATTRIBUTE, TAG, Comparison, OrderKey
from ..errors import InvalidParameterValue
from ..store import TrackingStore
from ..store.datasets import DatasetRow
from . import limits
from .caller import visibility
from .experiments import ExperimentService, now_ms
from .grammar import (
    NUMERIC_OPS,
    STRING_OPS,
    Prefixes,
    bad_comparator,
    list_or_string,
    number,
    order_clause,
    split_clauses,
)
from .search import decode_page_token, encode_page_token

USER_TAG = "mlflow.user"
SEARCH_MAX_RESULTS = 1000
RECORDS_PAGE_DEFAULT, RECORDS_PAGE_MAX = 1000, 10_000
MAX_RECORDS_PER_MERGE = 10_000
MAX_NAME = 500
_PREFIXES = Prefixes({"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG}, listing="('attribute', 'tag', 'tags')")
_STRING_KEYS = ("name", "created_by", "last_updated_by")
_NUMBER_KEYS = ("created_time", "last_update_time")
_ORDER_KEYS = ("name", "created_time", "last_update_time")
_SOURCE_TYPES = ("TRACE", "HUMAN", "DOCUMENT", "CODE", "UNSPECIFIED")


def input_hash(inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _digest(name: str, when: int) -> str:
    return hashlib.sha256(f"{name}:{when}".encode()).hexdigest()[:8]


def _json_object(text: Any, path: str, what: str) -> Any:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise InvalidParameterValue(limits.invalid_value(path, text, f"send {what} as a JSON string."))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidParameterValue(limits.invalid_value(path, text[:200], f"it is not valid JSON ({exc}).")) from None


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"),
                       (dict, "object")):
        if isinstance(value, kind):
            return name
    return "unknown"


def parse_filter(text: str | None) -> list[Comparison]:
    if not text or not text.strip():
        return []
    out = []
    for kind, key, op, raw in split_clauses(text, _PREFIXES):
        if raw is None:
            raise bad_comparator(op, STRING_OPS, f"'{key}'")
        if kind == TAG:
            if op not in ("=", "!=", "LIKE", "ILIKE"):
                raise bad_comparator(op, ("=", "!=", "LIKE", "ILIKE"), f"tag '{key}'")
            out.append(Comparison(TAG, key, op, list_or_string(TAG, key, op, raw, (), "tags")))
        elif key in _NUMBER_KEYS:
            if op not in NUMERIC_OPS:
                raise bad_comparator(op, NUMERIC_OPS, f"attribute '{key}'")
            out.append(Comparison(ATTRIBUTE, key, op, int(float(number(raw, f"Expected a number for '{key}'")))))
        elif key in _STRING_KEYS:
            if op not in STRING_OPS:
                raise bad_comparator(op, STRING_OPS, f"attribute '{key}'")
            out.append(Comparison(ATTRIBUTE, key, op, list_or_string(ATTRIBUTE, key, op, raw, ("name",), "attributes")))
        else:
            raise InvalidParameterValue(
                f"Invalid attribute key '{key}' specified. Valid keys are {sorted(_STRING_KEYS + _NUMBER_KEYS)}"
                " and tags.<key>.")
    return out


def parse_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    keys = []
    for clause in order_by or []:
        kind, key, ascending = order_clause(clause, _PREFIXES)
        if kind != ATTRIBUTE or key not in _ORDER_KEYS:
            raise InvalidParameterValue(f"Invalid order by key '{key}' specified. Valid keys are {list(_ORDER_KEYS)}")
        keys.append(OrderKey(ATTRIBUTE, key, ascending))
    return keys


def _encode_cursor(created: int, record_id: str) -> str:
    return base64.b64encode(f"{created}:{record_id}".encode()).decode()


def _decode_cursor(token: str | None) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        created, record_id = base64.b64decode(token.encode(), validate=True).decode().split(":", 1)
        return int(created), record_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterValue(limits.invalid_value(
            "page_token", token, "pass the next_page_token of the previous answer unchanged.")) from None


def record_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A stored record as MLflow's ``DatasetRecord.to_dict`` writes it."""
    out: dict[str, Any] = {"dataset_record_id": row["dataset_record_id"], "dataset_id": row["dataset_id"],
                           "inputs": json.loads(row["inputs"])}
    for key in ("outputs", "expectations", "tags", "source"):
        if row[key] is not None:
            out[key] = json.loads(row[key])
    for key in ("source_id", "source_type", "created_by", "last_updated_by"):
        if row[key] is not None:
            out[key] = row[key]
    out["created_time"], out["last_update_time"] = row["created_time"], row["last_update_time"]
    return out


class DatasetService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService) -> None:
        self.store = store
        self.experiments = experiments

    def _experiment_ids(self, ids: Sequence[Any], path: str = "experiment_ids") -> list[int]:
        out = []
        for i, e in enumerate(ids):
            exp = limits.parse_experiment_id(e, f"{path}[{i}]")
            self.experiments.get(exp)  # 404 for an unknown experiment
            out.append(exp)
        return out

    def _tags(self, text: Any, path: str = "tags") -> dict[str, str]:
        tags = _json_object(text, path, "tags") or {}
        if not isinstance(tags, dict):
            raise InvalidParameterValue(limits.invalid_value(path, text, "tags are a JSON object of strings."))
        out = {}
        for key, value in tags.items():
            limits.check_name(key, f"{path}.key", "Tag")
            if value is not None:
                out[key] = value if isinstance(value, str) else json.dumps(value)
        return out

    def create(self, name: Any, experiment_ids: Sequence[Any] = (), tags: Any = None) -> DatasetRow:
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterValue(limits.missing_value("name"))
        limits.check_length("name", name, MAX_NAME)
        exps = self._experiment_ids(experiment_ids)
        tag_map = self._tags(tags)
        when = now_ms()
        user = tag_map.get(USER_TAG)
        row = DatasetRow("d-" + uuid.uuid4().hex, name, _digest(name, when), None, None, when, when, user, user,
                         tag_map, [str(e) for e in dict.fromkeys(exps)])
        self.store.datasets.create(row)
        return self.store.datasets.get(row.dataset_id)

    def get(self, dataset_id: Any) -> DatasetRow:
        return self.store.datasets.get(self._id(dataset_id))

    def _id(self, dataset_id: Any) -> str:
        if not isinstance(dataset_id, str) or not dataset_id:
            raise InvalidParameterValue(limits.missing_value("dataset_id"))
        limits.check_length("dataset_id", dataset_id, 36)
        return dataset_id

    def delete(self, dataset_id: Any) -> None:
        """Delete a dataset with its records (deleting one that is not there is no error, as MLflow)."""
        self.store.datasets.delete(self._id(dataset_id))

    def search(self, experiment_ids: Sequence[Any] = (), filter_string: str | None = None,
               max_results: int | None = None, order_by: Sequence[str] | None = None,
               page_token: str | None = None) -> tuple[list[DatasetRow], str | None]:
        size = SEARCH_MAX_RESULTS if max_results is None else limits.check_max_results(max_results, SEARCH_MAX_RESULTS)
        exps = [limits.parse_experiment_id(e, f"experiment_ids[{i}]") for i, e in enumerate(experiment_ids)]
        offset = decode_page_token(page_token)
        rows = self.store.datasets.search(exps, parse_filter(filter_string), parse_order_by(order_by), size + 1, offset,
                                         visibility())
        token = encode_page_token(offset + size) if len(rows) > size else None
        return rows[:size], token

    def set_tags(self, dataset_id: Any, tags: Any) -> DatasetRow:
        dataset_id = self._id(dataset_id)
        self.store.datasets.set_tags(dataset_id, self._tags(tags))
        return self.store.datasets.get(dataset_id)

    def delete_tag(self, dataset_id: Any, key: Any) -> None:
        if not key:
            raise InvalidParameterValue(limits.missing_value("key"))
        self.store.datasets.delete_tag(self._id(dataset_id), str(key))

    def change_experiments(self, dataset_id: Any, add: Sequence[Any] = (), remove: Sequence[Any] = ()) -> DatasetRow:
        if not add and not remove:
            raise InvalidParameterValue(limits.missing_value("experiment_ids"))
        return self.store.datasets.set_experiments(
            self._id(dataset_id), self._experiment_ids(add),
            [limits.parse_experiment_id(e, f"experiment_ids[{i}]") for i, e in enumerate(remove)])

    # ---- records --------------------------------------------------------------

    def _records(self, text: Any) -> list[dict[str, Any]]:
        records = _json_object(text, "records", "the records")
        if not isinstance(records, list):
            raise InvalidParameterValue(limits.invalid_value(
                "records", str(text)[:200], "send a JSON list of {'inputs': {...}, 'expectations': {...}} objects."))
        if len(records) > MAX_RECORDS_PER_MERGE:
            raise InvalidParameterValue(
                f"Too many records in one merge: {len(records)} > {MAX_RECORDS_PER_MERGE}. Send them in batches.")
        for i, r in enumerate(records):
            if not isinstance(r, dict) or not isinstance(r.get("inputs"), dict):
                raise InvalidParameterValue(limits.invalid_value(
                    f"records[{i}].inputs", r if not isinstance(r, dict) else r.get("inputs"),
                    "each record needs 'inputs', a JSON object."))
            for key in ("expectations", "tags"):
                if r.get(key) is not None and not isinstance(r[key], dict):
                    raise InvalidParameterValue(limits.invalid_value(f"records[{i}].{key}", r[key], "use a JSON object."))
            source = r.get("source")
            if source is not None and (not isinstance(source, dict)
                                       or str(source.get("source_type", "UNSPECIFIED")).upper() not in _SOURCE_TYPES):
                raise InvalidParameterValue(limits.invalid_value(
                    f"records[{i}].source", source, f"a source is {{'source_type': one of {list(_SOURCE_TYPES)},"
                                                     " 'source_data': {...}}."))
        return records

    def merge_records(self, dataset_id: Any, records_json: Any) -> tuple[int, int]:
        """Insert or update records by their inputs; (inserted, updated)."""
        dataset_id = self._id(dataset_id)
        records = self._records(records_json)
        when = now_ms()
        dumps = json.dumps
        with self.store.db.write() as conn:
            dataset = self.store.datasets.get(dataset_id, conn)
            hashes = [input_hash(r["inputs"]) for r in records]
            existing = self.store.datasets.records_by_hash(conn, dataset_id, list(dict.fromkeys(hashes)))
            new: dict[str, dict[str, Any]] = {}
            changed: dict[str, dict[str, Any]] = {}
            updated_by = None
            for h, r in zip(hashes, records, strict=True):
                tags = r.get("tags") or {}
                user = tags.get(USER_TAG)
                updated_by = user or updated_by
                row = new.get(h) or changed.get(h) or existing.get(h)
                if row is None:
                    source = r.get("source")
                    source_data = (source or {}).get("source_data") or {}
                    source_type = str((source or {}).get("source_type", "")).upper() or None
                    source_id = source_data.get("trace_id") if source_type == "TRACE" else source_data.get("source_id")
                    new[h] = {"dataset_record_id": "dr-" + uuid.uuid4().hex, "dataset_id": dataset_id, "input_hash": h,
                              "inputs": dumps(r["inputs"]),
                              "outputs": None if r.get("outputs") is None else dumps(r["outputs"]),
                              "expectations": None if r.get("expectations") is None else dumps(r["expectations"]),
                              "tags": dumps(tags) if tags else None,
                              "source": None if source is None else dumps(source),
                              "source_id": None if source_id is None else str(source_id)[:250],
                              "source_type": source_type, "created_time": when, "last_update_time": when,
                              "created_by": user, "last_updated_by": user}
                    continue
                row = dict(row)
                if "outputs" in r:
                    row["outputs"] = None if r["outputs"] is None else dumps(r["outputs"])
                if r.get("expectations"):
                    row["expectations"] = dumps({**json.loads(row["expectations"] or "{}"), **r["expectations"]})
                if tags:
                    row["tags"] = dumps({**json.loads(row["tags"] or "{}"), **tags})
                row["last_update_time"] = when
                row["last_updated_by"] = user or row["last_updated_by"]
                (new if h in new else changed)[h] = row
            self.store.datasets.put_records(conn, list(new.values()), list(changed.values()))
            schema: dict[str, Any] = json.loads(dataset.schema) if dataset.schema else {
                "inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
            for r in records:
                for part in ("inputs", "expectations"):
                    for key, value in (r.get(part) or {}).items():
                        schema[part].setdefault(key, _type_of(value))
                outputs = r.get("outputs")
                if isinstance(outputs, dict):
                    for key, value in outputs.items():
                        schema["outputs"].setdefault(key, _type_of(value))
                elif outputs is not None and not schema["outputs"]:
                    schema["outputs"] = _type_of(outputs)
            count = self.store.datasets.count_records(conn, dataset_id)
            self.store.datasets.touch(
                conn, dataset_id, last_update_time=when, digest=_digest(dataset.name, when),
                last_updated_by=updated_by or dataset.last_updated_by, schema=dumps(schema),
                profile=dumps({"num_records": count}) if count else None)
        inserted = len(new)
        return inserted, len(records) - inserted

    def records(self, dataset_id: Any, max_results: int | None = None,
                page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        size = RECORDS_PAGE_DEFAULT if not max_results else limits.check_max_results(max_results, RECORDS_PAGE_MAX)
        rows = self.store.datasets.records(self._id(dataset_id), _decode_cursor(page_token), size + 1)
        token = None
        if len(rows) > size:
            rows = rows[:size]
            token = _encode_cursor(rows[-1]["created_time"], rows[-1]["dataset_record_id"])
        return [record_to_dict(r) for r in rows], token

    def delete_records(self, dataset_id: Any, record_ids: Sequence[Any]) -> int:
        if not record_ids:
            raise InvalidParameterValue(limits.missing_value("dataset_record_ids"))
        dataset_id = self._id(dataset_id)
        n = self.store.datasets.delete_records(dataset_id, [str(r) for r in record_ids])
        if n:
            with self.store.db.write() as conn:
                count = self.store.datasets.count_records(conn, dataset_id)
                self.store.datasets.touch(conn, dataset_id, profile=json.dumps({"num_records": count}) if count else None)
        return n

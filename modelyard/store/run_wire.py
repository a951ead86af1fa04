"""Pages of runs as MLflow wire dicts, built straight from rows.

The read paths that answer many runs at once (search, paging, ``runs/get``)
skip the entities: the page's rows come from the bare DB-API cursor, its
params, tags, latest metrics, dataset and logged-model inputs and logged-model outputs come in
one ``fetchall`` each, keyed on the page's run ids, and every run becomes the
dict ``Run.to_dict`` would give (plus MLflow 3's ``outputs``), in the page's
order. Children are listed by key (datasets and models in the order they were
logged), so the same run always reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import Raw

from .database import Database, Tx

_CHUNK = 5000  # run ids per statement

# The columns of ``runs`` in table order, as the page queries select them.
RUN_COLUMNS = (
    "id", "run_uuid", "name", "experiment_id", "user_id", "status", "start_time", "end_time",
    "deleted_time", "artifact_uri", "lifecycle_stage",
)
_INF = float("inf")


def _number(value: float, is_nan: Any) -> float | str:
    """A latest-metric value as MLflow's JSON writes it (non-finite values as strings)."""
    if is_nan:
        return "NaN"
    if -_INF < value < _INF:
        return value
    return "Infinity" if value > 0 else "-Infinity"


class RunWire:
    """Reads pages of runs as wire dicts through one transaction's cursor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_uuid = db.sql(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_uuid = ?")
        # {ids} is replaced by the page's run ids: ``IN (?, ...)`` on SQLite; on PostgreSQL ``IN (SELECT unnest(%s))``,
        # which it joins (``= ANY(array)`` makes it test every row of a table against the whole array).
        # SQLite reads ``run_id IN (...)`` one run at a time through the (run_id, key) primary key, so
        # its rows come in key order without a sort; PostgreSQL is asked for that order.
        by_key = "" if db.is_sqlite else " ORDER BY run_id, key"
        self._children = {
            "params": "SELECT run_id, key, value FROM params WHERE run_id {ids}" + by_key,
            "tags": "SELECT run_id, key, value FROM tags WHERE run_id {ids}" + by_key,
            # SQLite returns a CASE's branches with their own types: the wire value comes ready
            # (the float as stored, non-finite values as MLflow's strings); PostgreSQL's CASE has one type.
            "metrics": ("SELECT run_id, key, CASE WHEN is_nan THEN 'NaN' WHEN value = 9e999 THEN 'Infinity'"
                        " WHEN value = -9e999 THEN '-Infinity' ELSE value END, timestamp, step FROM latest_metrics"
                        if db.is_sqlite else
                        "SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics")
                       + " WHERE run_id {ids}" + by_key,
            "inputs": "SELECT i.id, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile"
                      " FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id {ids} ORDER BY i.id",
            "input_tags": "SELECT t.input_id, t.name, t.value FROM input_tags t JOIN inputs i ON i.id = t.input_id"
                          " WHERE i.run_id {ids} ORDER BY t.input_id, t.name",
            "outputs": "SELECT o.run_id, m.model_id, o.step FROM run_outputs o"
                       " JOIN logged_models m ON m.id = o.model_id WHERE o.run_id {ids}"
                       " ORDER BY o.run_id, m.creation_timestamp_ms, m.model_id, o.step",
            "model_inputs": "SELECT i.run_id, m.model_id FROM run_model_inputs i"
                            " JOIN logged_models m ON m.id = i.model_id WHERE i.run_id {ids}"
                            " ORDER BY i.run_id, m.creation_timestamp_ms, m.model_id",
        }
        # SQLite writes each run's key/value list as JSON text (strings only, so its JSON is exact)
        # faster than Python builds it; PostgreSQL's json_agg costs it more than it saves here.
        pairs = "json_group_array(json_object('key', key, 'value', value))"
        self._json = {
            table: f"SELECT run_id, {pairs} FROM {table} WHERE run_id {{ids}} GROUP BY run_id"
            for table in ("params", "tags")
        } if db.is_sqlite else {}

    def _ids(self, sql: str, pks: Sequence[int]) -> tuple[str, Sequence[Any]]:
        if self.db.is_sqlite:
            return sql.replace("{ids}", f"IN ({', '.join('?' * len(pks))})"), pks
        return sql.replace("{ids}", "IN (SELECT unnest(%s::int[]))"), (list(pks),)

    def get(self, tx: Tx, run_id: str) -> dict[str, Any] | None:
        """One run by its public id, or None."""
        row = tx.one(self._by_uuid, (run_id,))
        return self.build(tx, [row])[0] if row else None

    def build(self, tx: Tx, rows: Sequence[Sequence[Any]], encoded: bool = False) -> list[dict[str, Any]]:
        """Wire dicts of the runs whose ``RUN_COLUMNS`` rows are given, in their order.

        With ``encoded``, each run's ``params`` and ``tags`` lists may come as
        JSON written by the database (``msgspec.Raw``, on SQLite), ready for the encoder.
        """
        if not rows:
            return []
        params: dict[int, Any] = {}
        tags: dict[int, Any] = {}
        metrics: dict[int, list[dict[str, Any]]] = {}
        inputs: dict[int, list[dict[str, Any]]] = {}
        outputs: dict[int, list[dict[str, Any]]] = {}
        model_inputs: dict[int, list[dict[str, Any]]] = {}
        pks = [r[0] for r in rows]
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            for table, into in (("params", params), ("tags", tags)):
                if encoded and self._json:
                    into.update((pk, Raw(text)) for pk, text in tx.all(*self._ids(self._json[table], chunk)))
                    continue
                last, items = None, []
                for pk, key, value in tx.all(*self._ids(self._children[table], chunk)):
                    if pk != last:
                        last, items = pk, into.setdefault(pk, [])
                    items.append({"key": key, "value": value})
            last, items = None, []
            if self.db.is_sqlite:
                for pk, key, value, ts, step in tx.all(*self._ids(self._children["metrics"], chunk)):
                    if pk != last:
                        last, items = pk, metrics.setdefault(pk, [])
                    items.append({"key": key, "value": value, "timestamp": ts, "step": step})
            else:
                for pk, key, value, is_nan, ts, step in tx.all(*self._ids(self._children["metrics"], chunk)):
                    if pk != last:
                        last, items = pk, metrics.setdefault(pk, [])
                    items.append({"key": key, "value": _number(value, is_nan), "timestamp": ts, "step": step})
            self._inputs(tx, chunk, inputs)
            for pk, model_id, step in tx.all(*self._ids(self._children["outputs"], chunk)):
                outputs.setdefault(pk, []).append({"model_id": model_id, "step": step})
            for pk, model_id in tx.all(*self._ids(self._children["model_inputs"], chunk)):
                model_inputs.setdefault(pk, []).append({"model_id": model_id})
        out = []
        for pk, run_uuid, name, experiment_id, user_id, status, start_time, end_time, _deleted, artifact_uri, stage in rows:
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

    def _inputs(self, tx: Tx, pks: Sequence[int], into: dict[int, list[dict[str, Any]]]) -> None:
        rows = tx.all(*self._ids(self._children["inputs"], pks))
        if not rows:
            return
        tags: dict[int, list[dict[str, str]]] = {}
        for input_pk, name, value in tx.all(*self._ids(self._children["input_tags"], pks)):
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

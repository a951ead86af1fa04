"""Pages of runs read as plain rows: one query per child table for the whole page.

The read paths that answer many runs at once (search, paging, ``runs/get``)
skip the entities: the page's rows come from the bare DB-API cursor, its
params, tags, latest metrics, dataset and logged-model inputs and logged-model
outputs come in one ``fetchall`` each, keyed on the page's run ids. Children
are listed by key (datasets and models in the order they were logged), so the
same run always reads the same. ``entities/wire.py`` turns a :class:`RunPage`
into MLflow's dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities.wire import RUN_COLUMNS, RunPage
from .database import Database, Tx

_CHUNK = 5000  # run ids per statement


class RunPages:
    """Reads pages of runs as :class:`RunPage` rows through one transaction's cursor."""

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
            "metrics": "SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_id {ids}"
                       + by_key,
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
        # SQLite writes each run's key/value pairs as JSON text (strings only, so its JSON is exact)
        # faster than Python builds the lists; PostgreSQL's json_agg costs it more than it saves here.
        pairs = "json_group_array(json_object('key', key, 'value', value))"
        self._json = {
            table: f"SELECT run_id, {pairs} FROM {table} WHERE run_id {{ids}} GROUP BY run_id"
            for table in ("params", "tags")
        } if db.is_sqlite else {}

    def _ids(self, sql: str, pks: Sequence[int]) -> tuple[str, Sequence[Any]]:
        if self.db.is_sqlite:
            return sql.replace("{ids}", f"IN ({', '.join('?' * len(pks))})"), pks
        return sql.replace("{ids}", "IN (SELECT unnest(%s::int[]))"), (list(pks),)

    def one(self, tx: Tx, run_id: str) -> RunPage | None:
        """One run by its public id, or None."""
        row = tx.one(self._by_uuid, (run_id,))
        return self.read(tx, [row]) if row else None

    def read(self, tx: Tx, rows: Sequence[Sequence[Any]], pairs_json: bool = False) -> RunPage:
        """The page of the runs whose ``RUN_COLUMNS`` rows are given, in their order.

        With ``pairs_json``, each run's params and tags may come as one JSON text
        written by the database (on SQLite: ``RunPage.params_json``).
        """
        if not rows:
            return RunPage(rows)
        as_json = pairs_json and bool(self._json)
        out: dict[str, list[Any]] = {name: [] for name in self._children}
        pks = [r[0] for r in rows]
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            for table, sql in self._children.items():
                if table == "input_tags" and not out["inputs"]:
                    continue
                if as_json and table in self._json:
                    sql = self._json[table]
                out[table].extend(tx.all(*self._ids(sql, chunk)))
        if as_json:
            return RunPage(rows, params_json=out["params"], tags_json=out["tags"], metrics=out["metrics"],
                           inputs=out["inputs"], input_tags=out["input_tags"], outputs=out["outputs"],
                           model_inputs=out["model_inputs"])
        return RunPage(rows, **out)

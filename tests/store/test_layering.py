"""What the store may and may not do, read from its source: only the runs store writes ``runs``;
no MLflow JSON is built under ``store/`` (the encoders live in ``entities/wire.py``); one free list."""

from __future__ import annotations

import re
from pathlib import Path

STORE = Path(__file__).parents[2] / "modelyard" / "store"

# SQL (hand-written or SQLAlchemy Core) that writes the runs table itself, also through a helper
# given the table's name (``_delete(conn, "runs", ...)``, a ``("runs", "id IN ...")`` pair).
WRITES_RUNS = re.compile(
    r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+runs\b|UPDATE\s+runs\b|DELETE\s+FROM\s+runs\b"
    r"|(?:insert|update|delete)\(\s*(?:s\.)?runs\b"
    r"|insert_rows\(\s*tx,\s*\"runs\""
    r"|\w*(?:delete|insert|update|write)\w*\(\s*\w+\s*,\s*[\"']runs[\"']"
    r"|\(\s*[\"']runs[\"']\s*,\s*f?[\"'](?:id|run_uuid|run_id)\b",
    re.IGNORECASE,
)


def _sources() -> dict[str, str]:
    return {p.relative_to(STORE).as_posix(): p.read_text() for p in STORE.rglob("*.py")}


def test_only_the_runs_store_writes_runs():
    writers = sorted(name for name, text in _sources().items() if WRITES_RUNS.search(text))
    assert writers == ["runs.py"]


def test_the_pattern_finds_writes_through_helpers():
    """What the store's purge once did outside the runs store, each caught."""
    for sql in ('counts["runs"] += _delete(conn, "runs", f"id IN ({ids})", {})',
                '("runs", "id IN ({ids})"),', "conn.execute(delete(s.runs).where(x))",
                'tx.execute("UPDATE runs SET name = ?")'):
        assert WRITES_RUNS.search(sql), sql
    assert not WRITES_RUNS.search('op.create_index("ix_runs_experiment_start", "runs", ["experiment_id"])')


def test_no_entity_classes_in_the_store():
    """The store returns rows or the entities of ``modelyard/entities/``; it defines none of its own
    with a REST shape (``to_dict``), except the reports of operating it (backup, upgrade)."""
    defining = sorted(name for name, text in _sources().items() if "def to_dict(" in text)
    assert defining == ["backup.py", "upgrade.py"]


# Stores whose rows are MLflow's entities (experiments, runs, metrics, registry, logged models): they
# return rows, never the REST API's JSON. (Traces keep each span as the OTLP JSON it arrived in and is
# served as: that is their storage format, not an encoding of rows.)
MLFLOW_STORES = ("experiments.py", "runs.py", "run_pages.py", "metrics.py", "search.py", "registry.py",
                 "registry_reads.py", "registry_search.py", "logged_models.py", "logged_models_search.py",
                 "pipelines.py", "inference.py", "webhooks.py")


def test_no_mlflow_json_is_built_in_the_store():
    sources = _sources()
    assert set(MLFLOW_STORES) <= set(sources)
    for name, text in sources.items():
        assert "run_wire" not in text and "RunWire" not in text, name
        assert "history_dicts" not in text, name
        if name in MLFLOW_STORES:
            assert "to_dict(" not in text, f"{name} builds wire dicts"
            assert "msgspec" not in text, f"{name} encodes JSON"
        # MLflow writes non-finite metric values as these strings: only the encoders may.
        assert "'Infinity'" not in text and '"Infinity"' not in text, name


def test_one_free_list_written_once_and_no_fork_hooks():
    """The hot paths' free list (kept: SQLAlchemy's pool costs 10-15 us a transaction) is one class
    for both databases, and the SQLite writer's connection the only other one kept out of the pool;
    fork safety comes from process ids, not hooks or orphan lists."""
    sources = _sources()
    assert sorted(name for name, text in sources.items() if ".detach()" in text) == ["database.py", "writer.py"]
    text = sources["database.py"]
    assert text.count("class FreeList") == 1
    for name in ("_PgFreelist", "_ORPHANS", "register_at_fork", "_FREELISTS"):
        assert name not in text, name

"""What the store may and may not do, read from its source: only the runs store writes ``runs``;
no MLflow JSON is built under ``store/`` (the encoders live in ``entities/wire.py``); one free list."""

from __future__ import annotations

import re
from pathlib import Path

STORE = Path(__file__).parents[2] / "modelyard" / "store"

# SQL (hand-written or SQLAlchemy Core) that writes the runs table itself.
WRITES_RUNS = re.compile(
    r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+runs\b|UPDATE\s+runs\b|DELETE\s+FROM\s+runs\b"
    r"|(?:insert|update|delete)\(\s*(?:s\.)?runs\b"
    r"|insert_rows\(\s*tx,\s*\"runs\"",
    re.IGNORECASE,
)


def _sources() -> dict[str, str]:
    return {p.relative_to(STORE).as_posix(): p.read_text() for p in STORE.rglob("*.py")}


def test_only_the_runs_store_writes_runs():
    writers = sorted(name for name, text in _sources().items() if WRITES_RUNS.search(text))
    assert writers == ["runs.py"]


def test_no_mlflow_json_is_built_in_the_store():
    for name, text in _sources().items():
        assert "run_wire" not in text and "RunWire" not in text, name
        assert "to_dict(" not in text, f"{name} builds wire dicts"
        assert "msgspec" not in text, f"{name} encodes JSON"
        assert "history_dicts" not in text, name
        # MLflow writes non-finite metric values as these strings: only the encoders may.
        assert "'Infinity'" not in text and '"Infinity"' not in text, name


def test_one_free_list_written_once_and_no_fork_hooks():
    """The hot paths' free list (kept: SQLAlchemy's pool costs 10-15 us a transaction) is one class
    for both databases; fork safety comes from process ids, not hooks or orphan lists."""
    sources = _sources()
    assert sorted(name for name, text in sources.items() if ".detach()" in text) == ["database.py"]
    text = sources["database.py"]
    assert text.count("class FreeList") == 1
    for name in ("_PgFreelist", "_ORPHANS", "register_at_fork", "_FREELISTS"):
        assert name not in text, name

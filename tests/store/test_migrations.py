"""The migrations build exactly the schema the code queries, and re-running them is a no-op."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modelyard.store import schema
from modelyard.store.engine import make_engine
from modelyard.store.migrate import HEAD, current_revision, migrate


def test_migrated_database_matches_schema(empty_db_uri):
    engine = make_engine(empty_db_uri)
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []
    engine.dispose()


def test_concurrent_migrators_agree(empty_db_uri):
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(empty_db_uri)
        try:
            migrate(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = make_engine(empty_db_uri)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
    engine.dispose()

"""The migrations build exactly the schema the code queries, and re-running them is a no-op."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modelyard.store import schema
from modelyard.store.engine import make_engine
from modelyard.store.migrate import HEAD, current_revision, migrate
from modelyard.store.traces_schema import include_in_comparison

# The trigram indexes (PostgreSQL, migration 0023) are not in the metadata: test_0023_* below check them.
COMPARE = {"include_object": include_in_comparison}


def test_migrated_database_matches_schema(empty_db_uri):
    engine = make_engine(empty_db_uri)
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn, opts=COMPARE), schema.metadata)
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


def _upgrade_to(engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from modelyard.store import migrate as m

    with engine.connect().execution_options(write=True) as conn, conn.begin():  # foreign keys on, as the pool's
        cfg = Config()
        cfg.set_main_option("script_location", m._HERE)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_0020_keeps_every_row_and_lets_a_name_repeat_across_workspaces(empty_db_uri):
    """0020 copies experiments and registered_models on SQLite: their children (tags, runs, versions, aliases)
    must survive it, names stay unique within a workspace, and may repeat in another."""
    import sqlalchemy as sa

    engine = make_engine(empty_db_uri)
    _upgrade_to(engine, "0019")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workspaces (name, created_ms) VALUES ('dev', 0)"))
        conn.execute(sa.text("INSERT INTO experiments (experiment_id, name, artifact_location, workspace)"
                             " VALUES (7, 'exp', '/a/7', 'default')"))
        conn.execute(sa.text("INSERT INTO experiment_tags VALUES (7, 'k', 'v')"))
        conn.execute(sa.text("INSERT INTO runs (run_uuid, experiment_id, status) VALUES ('r1', 7, 'RUNNING')"))
        conn.execute(sa.text("INSERT INTO registered_models (id, name, next_version) VALUES (3, 'm', 2)"))
        conn.execute(sa.text("INSERT INTO registered_model_tags VALUES (3, 'k', 'v')"))
        conn.execute(sa.text("INSERT INTO model_versions (id, registered_model_id, version) VALUES (5, 3, 1)"))
        conn.execute(sa.text("INSERT INTO registered_model_aliases VALUES (3, 'champion', 5)"))
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
        assert conn.execute(sa.text("SELECT count(*) FROM experiment_tags")).scalar() == 1
        assert conn.execute(sa.text("SELECT experiment_id FROM runs")).scalar() == 7
        assert conn.execute(sa.text("SELECT count(*) FROM registered_model_tags")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM model_versions")).scalar() == 1
        assert conn.execute(sa.text("SELECT model_version_id FROM registered_model_aliases")).scalar() == 5
        diff = compare_metadata(MigrationContext.configure(conn, opts=COMPARE), schema.metadata)
    assert diff == []
    with engine.begin() as conn:  # the same names in another workspace
        conn.execute(sa.text("INSERT INTO experiments (name, artifact_location, workspace) VALUES ('exp', '/b', 'dev')"))
        conn.execute(sa.text("INSERT INTO registered_models (name, next_version, workspace) VALUES ('m', 1, 'dev')"))
    for statement in ("INSERT INTO experiments (name, artifact_location, workspace) VALUES ('exp', '/c', 'dev')",
                      "INSERT INTO registered_models (name, next_version, workspace) VALUES ('m', 1, 'default')"):
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(statement))
        except sa.exc.IntegrityError:
            continue
        raise AssertionError(f"a name repeated within one workspace: {statement}")
    with engine.connect() as conn:  # foreign keys are back on (SQLite): deleting a model cascades to its children
        with conn.begin():
            conn.execute(sa.text("DELETE FROM registered_models WHERE id = 3"))
        assert conn.execute(sa.text("SELECT count(*) FROM model_versions")).scalar() == 0
    engine.dispose()


def test_0023_makes_the_trigram_indexes_on_postgresql_only(empty_db_uri):
    import sqlalchemy as sa

    from modelyard.store.traces_schema import TRIGRAM_INDEXES

    engine = make_engine(empty_db_uri)
    migrate(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = {n for (n,) in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
            assert not any(name.endswith("_trgm") for name in names)
        else:
            found = dict(conn.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix\\_%\\_trgm'")).all())
            assert sorted(found) == sorted(name for name, _table, _column in TRIGRAM_INDEXES)
            for name, table, column in TRIGRAM_INDEXES:
                assert f"ON public.{table} USING gin ({column} gin_trgm_ops)" in found[name]
    engine.dispose()


def test_0023_without_the_right_to_create_pg_trgm_migrates_and_says_so(tmp_path, caplog):
    """A role without CREATE on its database cannot create pg_trgm: the migration still reaches HEAD, logs
    a warning naming the extension and the fix, makes no trigram index, and LIKE searches still answer."""
    import logging
    import uuid

    import sqlalchemy as sa

    from modelyard.entities.traces import Span
    from tests.conftest import _admin_engine, fresh_database, make_service

    with fresh_database("postgresql", tmp_path) as uri:
        role = f"modelyard_noext_{uuid.uuid4().hex[:8]}"
        admin = _admin_engine(uri)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(sa.text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
        try:
            as_role = uri.replace("://postgres@", f"://{role}@", 1)
            assert as_role != uri
            engine = make_engine(as_role)
            with caplog.at_level(logging.WARNING, logger="modelyard.store.migrations"):
                migrate(engine)
            warned = [r.getMessage() for r in caplog.records if r.name == "modelyard.store.migrations"]
            assert len(warned) == 1 and "pg_trgm" in warned[0] and "CREATE EXTENSION pg_trgm" in warned[0]
            with engine.connect() as conn:
                assert current_revision(conn) == HEAD
                assert conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%trgm'")).scalar() == 0
            engine.dispose()
            svc = make_service(as_role, tmp_path)
            try:
                svc.traces.log_spans("0", [Span(
                    f"tr-{1:032x}", f"{1:016x}", None, "ask", "LLM", "OK", None, 10**15, 10**15 + 5,
                    {"mlflow.spanInputs": {"q": "a refund please"}}, otel_trace_id=f"{1:032x}")])
                assert [i.trace_id for i in svc.traces.search(["0"], "trace.text LIKE '%refund%'")[0]] == [f"tr-{1:032x}"]
            finally:
                svc.close()
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \'{role}\''))
                conn.execute(sa.text(f'REASSIGN OWNED BY "{role}" TO postgres'))
                conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            admin.dispose()
            admin_db = _admin_engine(uri.rsplit("/", 1)[0] + "/postgres")
            with admin_db.connect() as conn:
                conn.execute(sa.text(f'DROP ROLE "{role}"'))
            admin_db.dispose()


def test_0023_keeps_a_trigram_index_built_beforehand(tmp_path):
    """An operator builds an index with CREATE INDEX CONCURRENTLY before upgrading a large store: 0023 keeps it."""
    import sqlalchemy as sa

    from tests.conftest import fresh_database

    with fresh_database("postgresql", tmp_path) as uri:
        engine = make_engine(uri)
        _upgrade_to(engine, "0022")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(sa.text("CREATE INDEX CONCURRENTLY ix_spans_content_trgm ON spans USING gin (content gin_trgm_ops)"))
        migrate(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD
            found = conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'ix\\_%\\_trgm'")).scalar()
        assert found == 8
        engine.dispose()

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
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
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

"""``modelyard db upgrade|current|check|backup``: several processes upgrading at once, a backup taken while a
writer writes, PostgreSQL's pg_dump as the docs show it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text

from modelyard.cli import main
from modelyard.entities import Metric
from modelyard.store import schema
from modelyard.store.engine import make_engine
from modelyard.store.migrate import HEAD
from modelyard.store.traces_schema import include_in_comparison
from tests.conftest import fresh_database, make_service

from .conftest import assert_clean_error

# The trigram indexes (PostgreSQL, migration 0023) are not in the metadata: tests/store/test_migrations.py checks them.
COMPARE = {"include_object": include_in_comparison}

# Each process imports modelyard, then waits for the gate file, so the upgrades themselves start together.
_UPGRADER = """
import os, sys, time
from modelyard.cli import main
gate = sys.argv[1]
for _ in range(3000):
    if os.path.exists(gate):
        break
    time.sleep(0.01)
main(["db", "upgrade", "--backend-store-uri", sys.argv[2]])
"""


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_upgrade_current_and_check(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    missing = run("db", "current", "--backend-store-uri", uri)
    assert_clean_error(missing, "No store at", "modelyard db upgrade")
    assert not (tmp_path / "store.db").exists()  # looking never creates a store

    first = run("db", "upgrade", "--backend-store-uri", uri)
    assert first.exit_code == 0 and f"from schema revision (empty) to {HEAD}" in first.output
    again = run("db", "upgrade", "--backend-store-uri", uri)
    assert again.exit_code == 0 and "nothing to do" in again.output
    current = run("db", "current", "--backend-store-uri", uri, "--json")
    assert json.loads(current.output) == {"store": uri, "current": HEAD, "head": HEAD, "up_to_date": True}
    assert run("db", "check", "--backend-store-uri", uri).exit_code == 0

    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))
    engine.dispose()
    assert_clean_error(run("db", "check", "--backend-store-uri", uri), "revision 0007", "modelyard db upgrade")
    assert "up to date: no" in run("db", "current", "--backend-store-uri", uri).output


def test_an_unreachable_database_is_one_line():
    for args in (("db", "current"), ("db", "upgrade"), ("gc",)):
        refused = run(*args, "--backend-store-uri", "postgresql://postgres@127.0.0.1:1/none")
        assert_clean_error(refused, "Cannot use the store's database", "Connection refused", "--backend-store-uri")


def test_a_store_folder_is_its_database(tmp_path: Path):
    done = run("db", "upgrade", "--backend-store-uri", str(tmp_path / "folder"))
    assert done.exit_code == 0 and (tmp_path / "folder" / "modelyard.db").is_file()


def test_an_unknown_revision_is_refused(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    run("db", "upgrade", "--backend-store-uri", uri)
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'a8c4a736bde6'"))  # an MLflow revision
    engine.dispose()
    refused = run("db", "upgrade", "--backend-store-uri", uri)
    assert_clean_error(refused, "revision 'a8c4a736bde6', which this modelyard does not know", "modelyard import mlflow")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_several_processes_upgrade_one_new_store_at_once(kind: str, tmp_path: Path):
    with fresh_database(kind, tmp_path) as uri:
        gate = tmp_path / "go"
        procs = [subprocess.Popen([sys.executable, "-c", _UPGRADER, str(gate), uri], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(4)]
        gate.touch()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
        assert all(HEAD in out for out in outputs), outputs
        engine = make_engine(uri)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
            assert compare_metadata(MigrationContext.configure(conn, opts=COMPARE), schema.metadata) == []
        engine.dispose()


def test_backup_while_a_writer_logs_metrics(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    service = make_service(uri, tmp_path)
    run_id = service.runs.create(service.experiments.create("busy")).info.run_id
    written = [0]
    started = threading.Event()
    stop = threading.Event()

    def writer() -> None:  # one commit per point: the backup must hold a prefix of them
        for step in range(100_000):
            if stop.is_set():
                return
            service.runs.log_metric(run_id, Metric("loss", 1.0 / (step + 1), step, step))
            written[0] = step + 1
            if step == 50:
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(60)
        results = [run("db", "backup", str(tmp_path / f"copy{i}.db"), "--backend-store-uri", uri, "--json")
                   for i in range(3)]
    finally:
        stop.set()
        thread.join(60)
        service.close()
    counts = []
    for i, result in enumerate(results):
        assert result.exit_code == 0, result.output
        info = json.loads(result.output)
        assert info["revision"] == HEAD and info["path"] == str(tmp_path / f"copy{i}.db") and info["bytes"] > 0
        copy = sqlite3.connect(tmp_path / f"copy{i}.db")
        try:
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            steps = [r[0] for r in copy.execute(
                "SELECT m.step FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.run_uuid = ? ORDER BY m.step",
                (run_id,))]
        finally:
            copy.close()
        assert steps == list(range(len(steps))), "the backup is not a prefix of the commits"
        counts.append(len(steps))
    assert 50 <= counts[0] <= counts[1] <= counts[2] <= written[0]
    assert not list(tmp_path.glob(".copy*")), "a temporary file was left behind"

    exists = run("db", "backup", str(tmp_path / "copy0.db"), "--backend-store-uri", uri)
    assert_clean_error(exists, "already exists", "--overwrite")
    assert run("db", "backup", str(tmp_path / "copy0.db"), "--backend-store-uri", uri, "--overwrite").exit_code == 0
    assert_clean_error(run("db", "backup", str(tmp_path / "nowhere" / "x.db"), "--backend-store-uri", uri),
                       "does not exist")


def test_backup_of_postgresql_points_at_pg_dump(tmp_path: Path):
    with fresh_database("postgresql", tmp_path) as uri:
        done = run("db", "backup", str(tmp_path / "x.dump"), "--backend-store-uri", uri)
        assert done.exit_code == 2 and "pg_dump --format=custom" in done.stderr
        assert not (tmp_path / "x.dump").exists()


def test_pg_dump_as_the_docs_show_it(tmp_path: Path):
    """docs/deployment.md's PostgreSQL backup, run as written: pg_dump, then pg_restore into an empty database."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    with fresh_database("postgresql", tmp_path) as uri, fresh_database("postgresql", tmp_path) as restored:
        service = make_service(uri, tmp_path)
        run_id = service.runs.create(service.experiments.create("dumped")).info.run_id
        service.runs.log_metric(run_id, Metric("acc", 0.9, 1, 0))
        service.close()
        dump = tmp_path / "modelyard.dump"
        subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), uri], check=True, timeout=120)
        subprocess.run(["pg_restore", "--no-owner", "--dbname", restored, str(dump)], check=True, timeout=120)
        assert run("db", "check", "--backend-store-uri", restored).exit_code == 0
        copy = make_service(restored, tmp_path)
        try:
            assert copy.runs.get(run_id).data.metrics == {"acc": 0.9}
        finally:
            copy.close()
